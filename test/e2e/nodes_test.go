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

package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"k8s.io/kubernetes/test/e2e/framework"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

var (
	localUpState = flag.String("local-up-state", "", "state directory of a make local-up cluster; enables the specs that read its nodes and stop and restart its kubelets and apiservers")
	kindCluster  = flag.String("kind-cluster", "", "name of a make kind-up cluster; enables the specs that read its nodes and stop and restart its kubelets and apiserver, through docker exec")
)

// nodes is what the suite may do beyond the API on the cluster it runs
// against: read the nodes' cgroups and checkpoint directories, and stop and
// start the daemons (DAEMON names: "<node>-kubelet", "kube-apiserver",
// "kube-apiserver-<i>" for replica i >= 2).
type nodes interface {
	// freezerStates reads the freezer state of every cgroup of the pod on
	// node: cgroup v1 freezer.state (THAWED, FREEZING, FROZEN) and cgroup v2
	// cgroup.freeze (0, 1).
	freezerStates(node, podUID string) map[string]string
	// archives lists the archives in node's kubelet checkpoint directory
	// whose names start with prefix.
	archives(node, prefix string) []string
	// readFile and remove act on a file of node, by the path the kubelet
	// reported.
	readFile(node, file string) []byte
	remove(node, file string)
	// control returns how to stop and start the daemon name.
	control(name string) daemonControl
}

// daemonControl stops and starts one daemon of the cluster.
type daemonControl interface {
	// stop stops the daemon with sig and returns once it has exited; it
	// stays down until start.
	stop(sig syscall.Signal)
	// start starts it as the cluster started it, with extra flags.
	start(extra ...string)
}

// nodeAccess is the nodes of the cluster under test, or nil where the suite
// may only use the API.
func nodeAccess() nodes {
	switch {
	case *localUpState != "":
		return localUpNodes{state: *localUpState}
	case *kindCluster != "":
		return kindNodes{cluster: *kindCluster}
	}
	return nil
}

// skipUnlessDaemons skips a spec that stops and starts daemons where the
// suite may not.
func skipUnlessDaemons() {
	if nodeAccess() == nil {
		ginkgo.Skip("needs a cluster whose kubelets and apiserver the suite may stop and restart: make local-up (--local-up-state) or make kind-up (--kind-cluster)")
	}
}

// daemon is a daemon of the cluster that a spec stops and starts again.
type daemon struct {
	name    string
	running bool
	ctl     daemonControl
}

// stopDaemon stops the daemon name with sig and waits for it to exit.
func stopDaemon(name string, sig syscall.Signal) *daemon {
	ginkgo.GinkgoHelper()
	n := nodeAccess()
	gomega.Expect(n).NotTo(gomega.BeNil(), "the suite may not stop %s here", name)
	d := &daemon{name: name, running: true, ctl: n.control(name)}
	d.stop(sig)
	return d
}

// stop stops the daemon with sig and waits for it to exit.
func (d *daemon) stop(sig syscall.Signal) {
	ginkgo.GinkgoHelper()
	d.ctl.stop(sig)
	d.running = false
}

// start starts the daemon as the cluster did, with extra flags.
func (d *daemon) start(extra ...string) {
	ginkgo.GinkgoHelper()
	d.ctl.start(extra...)
	d.running = true
}

// restart starts the daemon as it was, unless it runs; specs defer it so
// that the cluster is whole after a failure.
func (d *daemon) restart() {
	if !d.running {
		d.start()
	}
}

// freezerPatterns are where the cgroups of a pod are, for a pod UID with its
// dashes and for one with underscores (the systemd cgroup driver's names).
var freezerPatterns = []string{
	"freezer/*/kubepods/pod%s/freezer.state", "freezer/*/kubepods/pod%s/*/freezer.state",
	"freezer/*/kubepods/*/pod%s/freezer.state", "freezer/*/kubepods/*/pod%s/*/freezer.state",
	"freezer/kubelet.slice/*/*/*pod%s.slice/freezer.state", "freezer/kubelet.slice/*/*/*pod%s.slice/*/freezer.state",
	"freezer/kubelet.slice/*/*pod%s.slice/freezer.state", "freezer/kubelet.slice/*/*pod%s.slice/*/freezer.state",
	"unified/*/kubepods/*/pod%s/*/cgroup.freeze", "*/kubepods*/*/*pod%s*/*/cgroup.freeze",
	"unified/kubelet.slice/*/*/*pod%s.slice/*/cgroup.freeze", "kubelet.slice/*/*/*pod%s.slice/*/cgroup.freeze",
}

// localUpNodes are the nodes of make local-up: processes and directories of
// this machine, started by local-up's scripts.
type localUpNodes struct{ state string }

func (l localUpNodes) freezerStates(_, podUID string) map[string]string {
	states := map[string]string{}
	for _, pattern := range freezerPatterns {
		files, _ := filepath.Glob("/sys/fs/cgroup/" + fmt.Sprintf(pattern, podUID))
		for _, file := range files {
			raw, err := os.ReadFile(file)
			framework.ExpectNoError(err)
			states[file] = strings.TrimSpace(string(raw))
		}
	}
	return states
}

func (l localUpNodes) archives(node, prefix string) []string {
	archives, err := filepath.Glob(filepath.Join(l.state, node, "kubelet", "checkpoints", prefix+"*"))
	framework.ExpectNoError(err)
	return archives
}

func (l localUpNodes) readFile(_, file string) []byte {
	content, err := os.ReadFile(file)
	framework.ExpectNoError(err)
	return content
}

func (l localUpNodes) remove(_, file string) { framework.ExpectNoError(os.Remove(file)) }

func (l localUpNodes) control(name string) daemonControl {
	return &localUpDaemon{testutils.LocalUpDaemon{State: l.state, Name: name}}
}

// localUpDaemon is a process of make local-up.
type localUpDaemon struct{ d testutils.LocalUpDaemon }

func (d *localUpDaemon) stop(sig syscall.Signal) {
	ginkgo.GinkgoHelper()
	framework.ExpectNoError(d.d.Stop(sig))
}

func (d *localUpDaemon) start(extra ...string) {
	ginkgo.GinkgoHelper()
	framework.ExpectNoError(d.d.Start(extra...))
}

// kindNodes are the nodes of make kind-up: docker containers named after the
// Kubernetes nodes, reached with docker exec.
type kindNodes struct{ cluster string }

// kindExec runs a shell script in the node container and returns its output.
func kindExec(node, script string, args ...string) string {
	ginkgo.GinkgoHelper()
	cmd := exec.Command("docker", append([]string{"exec", node, "sh", "-euc", script, "sh"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	framework.ExpectNoError(cmd.Run(), "docker exec %s: %s", node, stderr.String())
	return stdout.String()
}

// kubeletCheckpoints is the kubelet's checkpoint directory in a kind node.
const kubeletCheckpoints = "/var/lib/kubelet/checkpoints"

func (k kindNodes) freezerStates(node, podUID string) map[string]string {
	var globs []string
	for _, uid := range []string{podUID, strings.ReplaceAll(podUID, "-", "_")} {
		for _, pattern := range freezerPatterns {
			globs = append(globs, "/sys/fs/cgroup/"+fmt.Sprintf(pattern, uid))
		}
	}
	out := kindExec(node, `for g in "$@"; do for f in $g; do if [ -f "$f" ]; then echo "$f $(cat "$f")"; fi; done; done`, globs...)
	states := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if file, state, ok := strings.Cut(line, " "); ok {
			states[node+":"+file] = state
		}
	}
	return states
}

func (k kindNodes) archives(node, prefix string) []string {
	var archives []string
	for _, name := range strings.Fields(kindExec(node, `ls "$1"`, kubeletCheckpoints)) {
		if strings.HasPrefix(name, prefix) {
			archives = append(archives, path.Join(kubeletCheckpoints, name))
		}
	}
	return archives
}

func (k kindNodes) readFile(node, file string) []byte {
	return []byte(kindExec(node, `cat "$1"`, file))
}

func (k kindNodes) remove(node, file string) { kindExec(node, `rm "$1"`, file) }

func (k kindNodes) control(name string) daemonControl {
	if node, ok := strings.CutSuffix(name, "-kubelet"); ok {
		return kindKubelet{node: node}
	}
	if name == "kube-apiserver" {
		return kindStaticPod{node: k.cluster + "-control-plane", name: name}
	}
	framework.Failf("make kind-up runs no daemon %s (one control plane, one apiserver)", name)
	return nil
}

// kindKubelet is a kind node's kubelet: the systemd unit kubelet, which
// restarts it a second after it dies unless it is stopped.
type kindKubelet struct{ node string }

// kindKubeletDropIn adds flags to the kubelet's command line, as kind's
// 10-kubeadm.conf writes it.
const kindKubeletDropIn = "/run/systemd/system/kubelet.service.d/99-kube-checkpoint-e2e.conf"

func (k kindKubelet) stop(sig syscall.Signal) {
	ginkgo.GinkgoHelper()
	script := `systemctl stop kubelet`
	if sig == syscall.SIGKILL {
		// The stop cancels the restart that systemd schedules a second later.
		script = `systemctl kill --kill-whom=main --signal=SIGKILL kubelet; systemctl stop kubelet`
	}
	kindExec(k.node, script+`; while [ "$(systemctl is-active kubelet)" = active ]; do sleep 0.2; done`)
}

func (k kindKubelet) start(extra ...string) {
	ginkgo.GinkgoHelper()
	if len(extra) == 0 {
		kindExec(k.node, `rm -f "$1"; systemctl daemon-reload; systemctl start kubelet`, kindKubeletDropIn)
		return
	}
	dropIn := "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS " +
		strings.Join(extra, " ") + "\n"
	kindExec(k.node, `mkdir -p "$(dirname "$1")"; printf '%s' "$2" > "$1"; systemctl daemon-reload; systemctl start kubelet`, kindKubeletDropIn, dropIn)
}

// kindStaticPod is a static pod of kind's control plane (the apiserver): its
// process is killed with the signal, and its manifest is moved out of the
// kubelet's manifest directory until start puts it back, so it stays down.
type kindStaticPod struct{ node, name string }

func (s kindStaticPod) stop(sig syscall.Signal) {
	ginkgo.GinkgoHelper()
	kindExec(s.node, `
		m=/etc/kubernetes/manifests/$1.yaml
		[ -f "/etc/kubernetes/$1.yaml.e2e-original" ] || cp "$m" "/etc/kubernetes/$1.yaml.e2e-original"
		pkill "-$2" -x "$1" || true
		rm -f "$m"
		n=0
		while pgrep -x "$1" >/dev/null; do
			n=$((n+1)); [ $n -lt 450 ] || { echo "$1 still runs" >&2; exit 1; }
			sleep 0.2
		done`, s.name, strconv.Itoa(int(sig)))
}

// start puts the manifest back with extra flags in place of the manifest's
// own of the same names (kubeadm's extraArgs), after the command's name.
func (s kindStaticPod) start(extra ...string) {
	ginkgo.GinkgoHelper()
	flags, names := "", ""
	for _, f := range extra {
		flags += `\n    - ` + f
		name, _, _ := strings.Cut(f, "=")
		names += "|" + regexp.QuoteMeta(name)
	}
	// $3 never matches a flag when there are no extra ones.
	kindExec(s.node, `sed -E -e "/^    - (--never-a-flag$3)=/d" -e "s#^    - $1\$#&$2#" "/etc/kubernetes/$1.yaml.e2e-original" > "/etc/kubernetes/manifests/$1.yaml"`, s.name, flags, names)
}
