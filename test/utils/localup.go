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

package utils

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LocalUpDaemon is a process of make local-up: its pid file is
// STATE/pids/NAME, and STATE/daemons/NAME (written by hack/local-up.sh)
// starts it as local-up did. The e2e suite's faults and make bench stop and
// start daemons with it.
type LocalUpDaemon struct {
	State, Name string
	pid         int
}

func (d *LocalUpDaemon) pidFile() string { return filepath.Join(d.State, "pids", d.Name) }

// Stop sends the daemon sig and returns once it has exited, or an error
// after 90 seconds.
func (d *LocalUpDaemon) Stop(sig syscall.Signal) error {
	if d.pid == 0 {
		raw, err := os.ReadFile(d.pidFile())
		if err != nil {
			return err
		}
		if d.pid, err = strconv.Atoi(strings.TrimSpace(string(raw))); err != nil {
			return fmt.Errorf("%s: %w", d.pidFile(), err)
		}
	}
	if err := syscall.Kill(d.pid, sig); err != nil {
		return fmt.Errorf("%s (pid %d): %w", d.Name, d.pid, err)
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(d.pid) + "/status")
		if os.IsNotExist(err) || strings.Contains(string(status), "\nState:\tZ") {
			return nil
		}
	}
	return fmt.Errorf("%s (pid %d) did not exit within 90s of %s", d.Name, d.pid, sig)
}

// Start starts the daemon through local-up's script with extra flags
// appended (a flag given again overrides local-up's), logging where it
// logged.
func (d *LocalUpDaemon) Start(extra ...string) error {
	cmd := exec.Command(filepath.Join(d.State, "daemons", d.Name), extra...)
	log, err := os.OpenFile(filepath.Join(d.State, "logs", d.Name+".log"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() //nolint:errcheck
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	d.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it when it is stopped again
	return os.WriteFile(d.pidFile(), []byte(strconv.Itoa(d.pid)+"\n"), 0o644)
}
