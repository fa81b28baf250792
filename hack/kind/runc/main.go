/*
Copyright The kube-checkpoint Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// kube-checkpoint-runc is runc for Docker Engines that cannot start
// privileged containers: dockerd 20.10 gives a privileged container every
// capability it knows, and runc fails with "unable to apply caps: operation
// not permitted" where the engine itself runs without one of them in its
// bounding set (CAP_MAC_OVERRIDE on this project's machines). kind's nodes
// are privileged containers.
//
// As a runtime it drops, from the container's config.json ("create"/"run
// --bundle") or an exec's process.json ("exec --process"), the capabilities
// outside its own bounding set, which no process here can hold anyway, then
// runs the real runc with the same arguments.
//
//	kube-checkpoint-runc --install    registers it with dockerd as the runtime
//	                                  "kube-checkpoint" (/etc/docker/daemon.json,
//	                                  then SIGHUP, which reloads runtimes)
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RuntimeName is the name the runtime is registered under in dockerd.
const RuntimeName = "kube-checkpoint"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--install" {
		if err := install("/etc/docker/daemon.json"); err != nil {
			fmt.Fprintln(os.Stderr, "kube-checkpoint-runc:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kube-checkpoint-runc:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	bounding, err := boundingSet()
	if err != nil {
		return err
	}
	for i, arg := range args {
		var file string
		switch {
		case (arg == "--bundle" || arg == "-b") && i+1 < len(args):
			file = filepath.Join(args[i+1], "config.json")
		case strings.HasPrefix(arg, "--bundle="):
			file = filepath.Join(strings.TrimPrefix(arg, "--bundle="), "config.json")
		case (arg == "--process" || arg == "-p") && i+1 < len(args):
			file = args[i+1]
		case strings.HasPrefix(arg, "--process="):
			file = strings.TrimPrefix(arg, "--process=")
		}
		if file != "" {
			if err := filterFile(file, bounding); err != nil {
				return err
			}
		}
	}
	runc, err := realRunc()
	if err != nil {
		return err
	}
	return syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ())
}

// boundingSet reads CapBnd of this process: the capabilities it may hold.
func boundingSet() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck
	s := bufio.NewScanner(f)
	for s.Scan() {
		if hex, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				return nil, err
			}
			set := map[string]bool{}
			for i, name := range capNames {
				if mask&(1<<uint(i)) != 0 {
					set[name] = true
				}
			}
			return set, nil
		}
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
}

// capNames are the capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// filterFile drops the capabilities outside bounding from the OCI config or
// process file, leaving everything else as it was.
func filterFile(file string, bounding map[string]bool) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, changed, err := filter(raw, bounding)
	if err != nil || !changed {
		return err
	}
	return os.WriteFile(file, out, 0o600)
}

// filter returns the config or process JSON with only the capabilities in
// bounding, and whether it dropped any.
func filter(raw []byte, bounding map[string]bool) ([]byte, bool, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, false, err
	}
	process := doc
	var inConfig map[string]json.RawMessage
	if p, ok := doc["process"]; ok { // config.json; a process.json is the process itself
		if err := json.Unmarshal(p, &inConfig); err != nil {
			return nil, false, err
		}
		process = inConfig
	}
	rawCaps, ok := process["capabilities"]
	if !ok {
		return raw, false, nil
	}
	var caps map[string][]string
	if err := json.Unmarshal(rawCaps, &caps); err != nil {
		return nil, false, err
	}
	changed := false
	for set, names := range caps {
		kept := []string{}
		for _, name := range names {
			if bounding[name] {
				kept = append(kept, name)
			} else {
				changed = true
			}
		}
		caps[set] = kept
	}
	if !changed {
		return raw, false, nil
	}
	var err error
	if process["capabilities"], err = json.Marshal(caps); err != nil {
		return nil, false, err
	}
	if inConfig != nil {
		if doc["process"], err = json.Marshal(inConfig); err != nil {
			return nil, false, err
		}
	}
	out, err := json.Marshal(doc)
	return out, true, err
}

// realRunc is the first runc on PATH that is not this program.
func realRunc() (string, error) {
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin") {
		candidate := filepath.Join(dir, "runc")
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			if resolved, err := filepath.EvalSymlinks(candidate); err == nil && resolved != self {
				return candidate, nil
			}
		}
	}
	return "", fmt.Errorf("no runc on PATH")
}

// install adds this program to dockerd's runtimes, keeping every other
// setting of the daemon's file, and has dockerd reload it.
func install(file string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	config := map[string]any{}
	if raw, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(raw, &config); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	runtimes, _ := config["runtimes"].(map[string]any)
	if runtimes == nil {
		runtimes = map[string]any{}
	}
	if r, ok := runtimes[RuntimeName].(map[string]any); ok && r["path"] == self {
		return nil
	}
	runtimes[RuntimeName] = map[string]any{"path": self}
	config["runtimes"] = runtimes
	raw, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	pid, err := exec.Command("pidof", "dockerd").Output()
	if err != nil {
		return fmt.Errorf("no dockerd to reload: %w", err)
	}
	for _, p := range strings.Fields(string(pid)) {
		n, _ := strconv.Atoi(p)
		if err := syscall.Kill(n, syscall.SIGHUP); err != nil {
			return err
		}
	}
	for range 50 {
		out, _ := exec.Command("docker", "info", "--format", "{{json .Runtimes}}").Output()
		if strings.Contains(string(out), `"`+RuntimeName+`"`) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("dockerd did not load the runtime %s from %s", RuntimeName, file)
}
