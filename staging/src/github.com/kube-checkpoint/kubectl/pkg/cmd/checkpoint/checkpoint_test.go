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
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest/fake"
	clienttesting "k8s.io/client-go/testing"
	cmdtesting "k8s.io/kubectl/pkg/cmd/testing"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/scheme"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	checkpointfake "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1/fake"
)

func pod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "test", Labels: map[string]string{"app": "jupyter"}},
		Spec:       corev1.PodSpec{NodeName: "node1"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "10.213.0.2"},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	}
	return p
}

func archive(p, c string) string {
	return fmt.Sprintf("/var/lib/kubelet/checkpoints/checkpoint-%s_test-%s-2026-11-27T03:00:00Z.tar", p, c)
}

// kubeletResults answers every checkpoint like a kubelet would, unless
// failures names an error for the container.
func kubeletResults(failures map[string]error) clienttesting.ReactionFunc {
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		create := action.(clienttesting.CreateActionImpl)
		opts := create.GetObject().(*checkpointv1.PodCheckpointOptions)
		if err := failures[opts.Container]; err != nil {
			return true, nil, err
		}
		return true, &checkpointv1.PodCheckpointResult{
			NodeName: "node1", HostIP: "10.213.0.2", Namespace: "test", PodName: create.Name, ContainerName: opts.Container,
			ArchivePaths: []string{archive(create.Name, opts.Container)},
		}, nil
	}
}

// exited stops the command where kubectl would exit.
type exited struct{}

type outcome struct {
	stdout, stderr, fatal string
	actions               []string
}

func run(t *testing.T, pods []*corev1.Pod, failures map[string]error, args ...string) outcome {
	t.Helper()
	tf := cmdtesting.NewTestFactory().WithNamespace("test")
	defer tf.Cleanup()
	codec := scheme.Codecs.LegacyCodec(scheme.Scheme.PrioritizedVersionsAllGroups()...)
	tf.Client = &fake.RESTClient{
		NegotiatedSerializer: scheme.Codecs.WithoutConversion(),
		Client: fake.CreateHTTPClient(func(req *http.Request) (*http.Response, error) {
			respond := func(obj runtime.Object) (*http.Response, error) {
				return &http.Response{StatusCode: http.StatusOK, Header: cmdtesting.DefaultHeader(), Body: io.NopCloser(bytes.NewReader([]byte(runtime.EncodeOrDie(codec, obj))))}, nil
			}
			path := strings.TrimPrefix(req.URL.Path, "/api/v1")
			switch {
			case req.Method == http.MethodGet && path == "/namespaces/test":
				// The builder looks the namespace up when a pod is missing.
				return respond(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "test"}})
			case req.Method == http.MethodGet && path == "/namespaces/test/pods":
				list := &corev1.PodList{}
				for _, p := range pods {
					if strings.Contains(req.URL.RawQuery, "app%3Djupyter") {
						list.Items = append(list.Items, *p)
					}
				}
				return respond(list)
			case req.Method == http.MethodGet && strings.HasPrefix(path, "/namespaces/test/pods/"):
				for _, p := range pods {
					if path == "/namespaces/test/pods/"+p.Name {
						return respond(p)
					}
				}
				status := apierrors.NewNotFound(corev1.Resource("pods"), strings.TrimPrefix(path, "/namespaces/test/pods/")).Status()
				return &http.Response{StatusCode: http.StatusNotFound, Header: cmdtesting.DefaultHeader(), Body: io.NopCloser(bytes.NewReader([]byte(runtime.EncodeOrDie(codec, &status))))}, nil
			}
			t.Fatalf("unexpected request %s %s", req.Method, req.URL)
			return nil, nil
		}),
	}
	// client-go's typed fake, with the kubelet's answers as its only reactor.
	client := &checkpointfake.FakeCoreV1{Fake: &clienttesting.Fake{}}
	client.PrependReactor("create", "pods", kubeletResults(failures))

	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewCheckpointOptions(streams)
	o.CheckpointClient = client
	cmd := newCmdCheckpoint(tf, o)
	var fatal string
	cmdutil.BehaviorOnFatal(func(msg string, code int) {
		fatal = fmt.Sprintf("%d %s", code, msg)
		panic(exited{})
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(exited); !ok {
					panic(r)
				}
			}
		}()
		if err := cmd.Execute(); err != nil {
			fatal = err.Error()
		}
	}()
	var actions []string
	for _, a := range client.Actions() {
		create := a.(clienttesting.CreateActionImpl)
		actions = append(actions, create.Name+"/"+create.GetObject().(*checkpointv1.PodCheckpointOptions).Container)
	}
	return outcome{stdout: out.String(), stderr: errOut.String(), fatal: fatal, actions: actions}
}

func summary(p, c string) string {
	return fmt.Sprintf(`Node:                  node1/10.213.0.2
Namespace:             test
Pod:                   %s
Container:             %s
Checkpoint Archive:    %s
`, p, c, archive(p, c))
}

func TestCheckpointCommand(t *testing.T) {
	web := pod("web", "app")
	multi := pod("multi", "app", "sidecar")
	annotated := pod("annotated", "app", "notebook")
	annotated.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "notebook"}
	// A debugged pod: a completed init container, a sidecar and a running
	// ephemeral container, all but the first checkpointable.
	debugged := pod("debugged", "app")
	debugged.Spec.InitContainers = []corev1.Container{{Name: "setup"}, {Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
	debugged.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "setup", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
		{Name: "proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
	}
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger"}}}
	debugged.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "debugger", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	pods := []*corev1.Pod{web, multi, annotated, debugged}
	forbidden := apierrors.NewForbidden(corev1.Resource("pods/checkpoint"), "web", fmt.Errorf(`User "alice" cannot create resource "pods/checkpoint" in API group "" in the namespace "test"`))
	// What an apiserver without the subresource answers.
	gateOff := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource", Details: &metav1.StatusDetails{}}}
	notRunning := apierrors.NewBadRequest("container sidecar of pod multi is waiting (CrashLoopBackOff): only a running container can be checkpointed, choose one of: [app]")
	notSupported := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 501, Reason: "NotImplemented",
		Message: "node node1 does not support checkpointing: its kubelet has no checkpoint endpoint (the kubelet's ContainerCheckpoint feature gate is off, or the kubelet is older than v1.25)"}}

	for _, tc := range []struct {
		name     string
		args     []string
		failures map[string]error
		want     outcome
	}{
		{name: "one container", args: []string{"web"},
			want: outcome{stdout: summary("web", "app"), actions: []string{"web/app"}}},
		{name: "default container with a notice", args: []string{"multi"},
			want: outcome{stdout: summary("multi", "app"), stderr: "Defaulted container \"app\" out of: app, sidecar\n", actions: []string{"multi/app"}}},
		{name: "default container, quiet", args: []string{"multi", "-q"},
			want: outcome{stdout: summary("multi", "app"), actions: []string{"multi/app"}}},
		{name: "default container from the annotation", args: []string{"annotated"},
			want: outcome{stdout: summary("annotated", "notebook"), actions: []string{"annotated/notebook"}}},
		{name: "named container", args: []string{"multi", "-c", "sidecar"},
			want: outcome{stdout: summary("multi", "sidecar"), actions: []string{"multi/sidecar"}}},
		{name: "pod/NAME", args: []string{"pod/web"},
			want: outcome{stdout: summary("web", "app"), actions: []string{"web/app"}}},
		{name: "all containers", args: []string{"multi", "--all-containers"},
			want: outcome{stdout: summary("multi", "app") + "\n" + summary("multi", "sidecar"), actions: []string{"multi/app", "multi/sidecar"}}},
		{name: "all containers: sidecar, regular and ephemeral, as the server counts them", args: []string{"debugged", "--all-containers"},
			want: outcome{stdout: summary("debugged", "proxy") + "\n" + summary("debugged", "app") + "\n" + summary("debugged", "debugger"), actions: []string{"debugged/proxy", "debugged/app", "debugged/debugger"}}},
		{name: "selector", args: []string{"-l", "app=jupyter", "-q"},
			want: outcome{stdout: summary("web", "app") + "\n" + summary("multi", "app") + "\n" + summary("annotated", "notebook") + "\n" + summary("debugged", "app"), actions: []string{"web/app", "multi/app", "annotated/notebook", "debugged/app"}}},
		{name: "name output", args: []string{"multi", "--all-containers", "-o", "name"},
			want: outcome{stdout: "pod/multi\npod/multi\n", actions: []string{"multi/app", "multi/sidecar"}}},
		{name: "jsonpath over several results", args: []string{"-l", "app=jupyter", "-q", "-o", "jsonpath={range .items[*]}{.podName}/{.containerName} {end}"},
			want: outcome{stdout: "web/app multi/app annotated/notebook debugged/app ", actions: []string{"web/app", "multi/app", "annotated/notebook", "debugged/app"}}},
		{name: "go-template of one result", args: []string{"web", "-o", "go-template={{.nodeName}} {{index .archivePaths 0}}"},
			want: outcome{stdout: "node1 " + archive("web", "app"), actions: []string{"web/app"}}},
		{name: "unknown container", args: []string{"multi", "-c", "nope"},
			want: outcome{fatal: "1 error: container nope is not valid for pod multi out of: app, sidecar"}},
		{name: "pod missing", args: []string{"gone"},
			want: outcome{fatal: `1 Error from server (NotFound): pods "gone" not found`}},
		{name: "no pod matches", args: []string{"-l", "app=none"},
			want: outcome{fatal: `1 error: no pods in namespace test match the selector "app=none"`}},
		{name: "server without pods/checkpoint", args: []string{"web"}, failures: map[string]error{"app": gateOff},
			want: outcome{fatal: "1 error: cannot checkpoint container app of pod test/web: the server does not serve pods/checkpoint: it needs kube-checkpoint's kube-apiserver started with --feature-gates=ContainerCheckpointAPI=true", actions: []string{"web/app"}}},
		{name: "forbidden", args: []string{"web"}, failures: map[string]error{"app": forbidden},
			want: outcome{fatal: `1 error: cannot checkpoint container app of pod test/web: pods/checkpoint "web" is forbidden: User "alice" cannot create resource "pods/checkpoint" in API group "" in the namespace "test"
to be allowed, bind the ClusterRole system:pod-checkpointer, for example: kubectl create rolebinding checkpointers -n test --clusterrole=system:pod-checkpointer --user=<you>`, actions: []string{"web/app"}}},
		{name: "node without support", args: []string{"web"}, failures: map[string]error{"app": notSupported},
			want: outcome{fatal: "1 error: cannot checkpoint container app of pod test/web: node node1 does not support checkpointing: its kubelet has no checkpoint endpoint (the kubelet's ContainerCheckpoint feature gate is off, or the kubelet is older than v1.25)", actions: []string{"web/app"}}},
		{name: "one of several fails, the rest go on", args: []string{"multi", "--all-containers"}, failures: map[string]error{"sidecar": notRunning},
			want: outcome{stdout: summary("multi", "app"), fatal: "1 error: cannot checkpoint container sidecar of pod test/multi: container sidecar of pod multi is waiting (CrashLoopBackOff): only a running container can be checkpointed, choose one of: [app]", actions: []string{"multi/app", "multi/sidecar"}}},
		{name: "two fail: both reported", args: []string{"multi", "--all-containers"}, failures: map[string]error{"app": notSupported, "sidecar": notRunning},
			want: outcome{stderr: "error: cannot checkpoint container app of pod test/multi: node node1 does not support checkpointing: its kubelet has no checkpoint endpoint (the kubelet's ContainerCheckpoint feature gate is off, or the kubelet is older than v1.25)\n",
				fatal: "1 error: cannot checkpoint container sidecar of pod test/multi: container sidecar of pod multi is waiting (CrashLoopBackOff): only a running container can be checkpointed, choose one of: [app]", actions: []string{"multi/app", "multi/sidecar"}}},
		{name: "no target", args: []string{},
			want: outcome{fatal: "1 error: a pod (POD or TYPE/NAME) or a selector (-l) is required"}},
		{name: "container and all containers", args: []string{"web", "-c", "app", "--all-containers"},
			want: outcome{fatal: "1 error: --container (-c) and --all-containers cannot both be given"}},
		{name: "fractional timeout", args: []string{"web", "--timeout=1500ms"},
			want: outcome{fatal: "1 error: --timeout must be a whole number of seconds, got 1.5s"}},
		{name: "unknown output", args: []string{"web", "-o", "wide"},
			want: outcome{fatal: `1 error: unable to match a printer suitable for the output format "wide", allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,yaml`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, pods, tc.failures, tc.args...)
			if got.stdout != tc.want.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, tc.want.stdout)
			}
			if got.stderr != tc.want.stderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", got.stderr, tc.want.stderr)
			}
			if strings.TrimSpace(got.fatal) != tc.want.fatal {
				t.Errorf("fatal:\n%q\nwant:\n%q", got.fatal, tc.want.fatal)
			}
			if strings.Join(got.actions, ",") != strings.Join(tc.want.actions, ",") {
				t.Errorf("checkpoints %v, want %v", got.actions, tc.want.actions)
			}
		})
	}
}

func TestCheckpointCommandJSON(t *testing.T) {
	got := run(t, []*corev1.Pod{pod("web", "app")}, nil, "web", "-o", "json", "--timeout=90s")
	for _, want := range []string{`"kind": "PodCheckpointResult"`, `"apiVersion": "v1"`, `"containerName": "app"`, `"archivePaths": [`} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("json output lacks %s:\n%s", want, got.stdout)
		}
	}
}

// TestCheckpointCommandSeveralResults: several results are one List in JSON
// and YAML, which a parser reads whole, as kubectl get prints them.
func TestCheckpointCommandSeveralResults(t *testing.T) {
	pods := []*corev1.Pod{pod("web", "app"), pod("multi", "app", "sidecar")}
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			got := run(t, pods, nil, "-l", "app=jupyter", "-q", "-o", format)
			if got.fatal != "" {
				t.Fatal(got.fatal)
			}
			list := &corev1.List{}
			if err := yaml.UnmarshalStrict([]byte(got.stdout), list); err != nil {
				t.Fatalf("not one document: %v\n%s", err, got.stdout)
			}
			if list.Kind != "List" || list.APIVersion != "v1" || len(list.Items) != 2 {
				t.Fatalf("got %s %s with %d items, want a v1 List of 2:\n%s", list.APIVersion, list.Kind, len(list.Items), got.stdout)
			}
			for i, want := range []string{"web", "multi"} {
				result := &checkpointv1.PodCheckpointResult{}
				if err := yaml.Unmarshal(list.Items[i].Raw, result); err != nil || result.Kind != "PodCheckpointResult" || result.PodName != want || len(result.ArchivePaths) != 1 {
					t.Errorf("item %d: %+v %v, want the result of %s", i, result, err, want)
				}
			}
		})
	}
}
