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

package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

// runCLI runs a built binary of _output/bin with PATH set to that directory
// only, so "kubectl checkpoint" finds the kubectl-checkpoint plugin there.
func runCLI(t *testing.T, kubeconfig string, binary string, args ...string) (string, string, int) {
	t.Helper()
	if len(args) > 0 && args[0] == "__complete" {
		// Completion completes the last argument: the kubeconfig goes first.
		args = append([]string{"__complete", "--kubeconfig=" + kubeconfig}, args[1:]...)
	} else {
		args = append(args, "--kubeconfig="+kubeconfig)
	}
	cmd := exec.Command(filepath.Join(framework.BinDir(), binary), args...)
	cmd.Env = []string{"PATH=" + framework.BinDir(), "HOME=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestKubectlCheckpoint(t *testing.T) {
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	createPod(t, ns, podSpec{name: "multi", node: nodeName, phase: corev1.PodRunning, order: []string{"app", "helper"},
		containers: map[string]corev1.ContainerState{"app": running, "helper": running}})
	kubelet.SetHandler(kubeletArchive)

	dir := t.TempDir()
	adminCert, err := cluster.PKI.ClientCert("kubectl-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	adminConfig := filepath.Join(dir, "admin.kubeconfig")
	if err := server.WriteKubeconfig(adminConfig, adminCert); err != nil {
		t.Fatal(err)
	}
	summary := func(pod, container string) string {
		return fmt.Sprintf(`Node:                  node1/127.0.0.1
Namespace:             %s
Pod:                   %s
Container:             %s
Checkpoint Archive:    /var/lib/kubelet/checkpoints/checkpoint-%s_%s-%s-2026-11-27T03:00:00Z.tar
`, ns, pod, container, pod, ns, container)
	}

	for _, tc := range []struct {
		name   string
		binary string
		args   []string
		stdout string
		stderr string
		code   int
	}{
		{"kubectl alpha checkpoint", "kubectl", []string{"alpha", "checkpoint", "web", "-n", ns}, summary("web", "app"), "", 0},
		{"the plugin", "kubectl-checkpoint", []string{"web", "-n", ns}, summary("web", "app"), "", 0},
		{"the plugin through kubectl", "kubectl", []string{"checkpoint", "pod/web", "-n", ns}, summary("web", "app"), "", 0},
		{"default container", "kubectl", []string{"alpha", "checkpoint", "multi", "-n", ns}, summary("multi", "app"), "Defaulted container \"app\" out of: app, helper\n", 0},
		{"all containers", "kubectl-checkpoint", []string{"multi", "--all-containers", "-n", ns}, summary("multi", "app") + "\n" + summary("multi", "helper"), "", 0},
		{"name output", "kubectl-checkpoint", []string{"multi", "-c", "helper", "-o", "name", "-n", ns}, "pod/multi\n", "", 0},
		{"unknown container", "kubectl", []string{"alpha", "checkpoint", "multi", "-c", "nope", "-n", ns}, "", "error: container nope is not valid for pod multi out of: app, helper\n", 1},
		{"pod missing", "kubectl-checkpoint", []string{"gone", "-n", ns}, "", "Error from server (NotFound): pods \"gone\" not found\n", 1},
		{"timeout above the server's cap", "kubectl-checkpoint", []string{"web", "--timeout=2h", "-n", ns}, "",
			"error: cannot checkpoint container app of pod " + ns + "/web: timeoutSeconds: Invalid value: 7200: must be at most 1800 (kube-apiserver --checkpoint-max-timeout)\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, adminConfig, tc.binary, tc.args...)
			if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
				t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}

	t.Run("shell completion", func(t *testing.T) {
		for _, tc := range []struct {
			binary string
			args   []string
			want   string
		}{
			// Pods first, then the resource types of TYPE/NAME, as kubectl exec.
			{"kubectl", []string{"__complete", "alpha", "checkpoint", "-n", ns, ""}, "multi\nweb\ndaemonsets/\ndeployments/\npods/\n"},
			{"kubectl-checkpoint", []string{"__complete", "-n", ns, "m"}, "multi\n:4\n"},
			{"kubectl-checkpoint", []string{"__complete", "multi", "-n", ns, "-c", ""}, "app\nhelper\n:4\n"},
		} {
			stdout, stderr, code := runCLI(t, adminConfig, tc.binary, tc.args...)
			if code != 0 || !strings.HasPrefix(stdout, tc.want) || !strings.HasSuffix(stdout, "\n:4\n") {
				t.Errorf("%s %v: exit %d, stdout %q, stderr %q; want stdout starting %q", tc.binary, tc.args, code, stdout, stderr, tc.want)
			}
		}
	})

	t.Run("json output", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, adminConfig, "kubectl", "alpha", "checkpoint", "web", "-o", "json", "-n", ns)
		var result checkpointv1.PodCheckpointResult
		if code != 0 || stderr != "" || json.Unmarshal([]byte(stdout), &result) != nil || result.Kind != "PodCheckpointResult" || result.ContainerName != "app" || len(result.ArchivePaths) != 1 {
			t.Errorf("exit %d, stderr %q, stdout %s", code, stderr, stdout)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		carolCert, err := cluster.PKI.ClientCert("carol")
		if err != nil {
			t.Fatal(err)
		}
		carolConfig := filepath.Join(dir, "carol.kubeconfig")
		if err := server.WriteKubeconfig(carolConfig, carolCert); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCLI(t, carolConfig, "kubectl-checkpoint", "web", "-n", ns)
		want := fmt.Sprintf("error: pods \"web\" is forbidden: User \"carol\" cannot get resource \"pods\" in API group \"\" in the namespace \"%s\"\n"+
			"to be allowed, bind the ClusterRole system:pod-checkpointer, for example: kubectl create rolebinding checkpointers -n %s --clusterrole=system:pod-checkpointer --user=<you>\n", ns, ns)
		if code != 1 || stderr != want {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", code, stderr, want)
		}
	})
}
