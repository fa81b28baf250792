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
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

const (
	checkpointPath = "/api/v1/namespaces/{namespace}/pods/{name}/checkpoint"
	resultModel    = "io.k8s.api.core.v1.PodCheckpointResult"
)

// TestDiscoveryEqualsUpstreamPlusCheckpoint compares the patched server with
// upstream's kube-apiserver built from the same modules and started with the
// same flags: with the gate off they serve the same discovery and OpenAPI;
// with it on, the only addition is pods/checkpoint. An upstream bump that
// changes what pkg/controlplane mirrors fails here.
func TestDiscoveryEqualsUpstreamPlusCheckpoint(t *testing.T) {
	upstream, err := cluster.StartAPIServer("apiserver-upstream", framework.APIServerOptions{Binary: "kube-apiserver-upstream", EtcdPrefix: "/upstream"})
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Stop()
	gateOff, err := cluster.StartAPIServer("apiserver-gate-off", framework.APIServerOptions{Binary: "kube-apiserver", EtcdPrefix: "/gate-off"})
	if err != nil {
		t.Fatal(err)
	}
	defer gateOff.Stop()
	servers := map[string]*framework.APIServer{"upstream": upstream, "gate-off": gateOff, "gate-on": server}

	for _, doc := range []struct {
		path, accept string
		// checkpointOnly removes what the checkpoint subresource adds.
		checkpointOnly func(t *testing.T, doc map[string]any)
	}{
		{"/api/v1", "application/json", removeCheckpointResource},
		{"/apis", "application/json", nil},
		{"/api", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", removeCheckpointSubresource},
		{"/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", nil},
		// The options are documented as the path's query parameters; only
		// the result is a model.
		{"/openapi/v2", "application/json", removeCheckpointOpenAPI("definitions")},
		{"/openapi/v3/api/v1", "application/json", removeCheckpointOpenAPI("components", "schemas")},
	} {
		t.Run(doc.path+" "+doc.accept, func(t *testing.T) {
			docs := map[string]map[string]any{}
			for name, s := range servers {
				docs[name] = fetch(t, s, doc.path, doc.accept)
			}
			if diff := cmp.Diff(docs["upstream"], docs["gate-off"]); diff != "" {
				t.Errorf("gate off differs from upstream (-upstream +gate-off):\n%s", diff)
			}
			if doc.checkpointOnly != nil {
				doc.checkpointOnly(t, docs["gate-on"])
			}
			if diff := cmp.Diff(docs["upstream"], docs["gate-on"]); diff != "" {
				t.Errorf("gate on differs from upstream by more than pods/checkpoint (-upstream +gate-on):\n%s", diff)
			}
		})
	}

	// A post-start hook or health check upstream adds, and the re-composed
	// server chain would drop, shows here; with the gate on the checkpoint's
	// own hooks are the only addition.
	for _, path := range []string{"/readyz", "/livez"} {
		t.Run(path+"?verbose", func(t *testing.T) {
			checks := map[string][]string{}
			for name, s := range servers {
				checks[name] = healthChecks(t, s, path)
			}
			if diff := cmp.Diff(checks["upstream"], checks["gate-off"]); diff != "" {
				t.Errorf("gate off differs from upstream (-upstream +gate-off):\n%s", diff)
			}
			want := append(slices.Clone(checks["upstream"]), "poststarthook/rbac/bootstrap-checkpoint-roles", "poststarthook/start-checkpoint-claims", "poststarthook/start-checkpoint-event-broadcaster")
			slices.Sort(want)
			if diff := cmp.Diff(want, checks["gate-on"]); diff != "" {
				t.Errorf("gate on differs from upstream by more than the checkpoint's hooks (-want +gate-on):\n%s", diff)
			}
		})
	}

	t.Run("gate off answers 404", func(t *testing.T) {
		ns := "default"
		code, err := checkpointQuery(t, gateOff.Admin, ns, "web", "")
		if code != http.StatusNotFound || err == nil || err.Error() != "the server could not find the requested resource" {
			t.Errorf("got %d %v, want 404 the server could not find the requested resource", code, err)
		}
	})
}

// healthChecks lists the checks that path?verbose reports, sorted.
func healthChecks(t *testing.T, s *framework.APIServer, path string) []string {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(s.Admin)
	body, err := client.Discovery().RESTClient().Get().AbsPath(path).Param("verbose", "true").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("%s %s: %v: %s", s.Name, path, err, body)
	}
	var checks []string
	for _, line := range strings.Split(string(body), "\n") {
		if name, ok := strings.CutPrefix(line, "[+]"); ok {
			checks = append(checks, strings.TrimSuffix(name, " ok"))
		}
	}
	slices.Sort(checks)
	return checks
}

// TestFlagsEqualUpstreamPlusCheckpoint: the patched kube-apiserver takes every
// flag of upstream's and only the --checkpoint-* flags besides, so an upstream
// flag the re-composed command would drop shows here.
func TestFlagsEqualUpstreamPlusCheckpoint(t *testing.T) {
	flags := map[string][]string{}
	for _, binary := range []string{"kube-apiserver-upstream", "kube-apiserver"} {
		out, err := exec.Command(filepath.Join(framework.BinDir(), binary), "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", binary, err, out)
		}
		for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([\w-]+)`).FindAllStringSubmatch(string(out), -1) {
			flags[binary] = append(flags[binary], m[1])
		}
		slices.Sort(flags[binary])
	}
	want := append(slices.Clone(flags["kube-apiserver-upstream"]), "checkpoint-default-timeout", "checkpoint-inflight-wait", "checkpoint-max-inflight-per-node", "checkpoint-max-timeout", "checkpoint-node-disk-reserve", "checkpoint-refuse-node-conditions")
	slices.Sort(want)
	if len(flags["kube-apiserver-upstream"]) < 100 {
		t.Fatalf("read only %d flags from upstream's --help", len(flags["kube-apiserver-upstream"]))
	}
	if diff := cmp.Diff(want, flags["kube-apiserver"]); diff != "" {
		t.Errorf("flags differ from upstream's plus --checkpoint-* (-want +patched):\n%s", diff)
	}
}

func fetch(t *testing.T, s *framework.APIServer, path, accept string) map[string]any {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(s.Admin)
	body, err := client.Discovery().RESTClient().Get().AbsPath(path).SetHeader("Accept", accept).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("%s %s: %v", s.Name, path, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s %s: %v", s.Name, path, err)
	}
	// What differs between any two servers: their address and version.
	delete(doc, "info")
	if groups, ok := doc["groups"].([]any); ok {
		for _, g := range groups {
			delete(g.(map[string]any), "serverAddressByClientCIDRs")
		}
	}
	return doc
}

func removeCheckpointResource(t *testing.T, doc map[string]any) {
	t.Helper()
	var kept []any
	found := false
	for _, r := range doc["resources"].([]any) {
		res := r.(map[string]any)
		if res["name"] == "pods/checkpoint" {
			found = true
			if verbs := res["verbs"].([]any); len(verbs) != 1 || verbs[0] != "create" || res["namespaced"] != true || res["kind"] != "PodCheckpointOptions" {
				t.Errorf("pods/checkpoint in /api/v1: %v", res)
			}
			continue
		}
		kept = append(kept, r)
	}
	if !found {
		t.Error("pods/checkpoint is missing from /api/v1")
	}
	doc["resources"] = kept
}

func removeCheckpointSubresource(t *testing.T, doc map[string]any) {
	t.Helper()
	found := false
	for _, item := range doc["items"].([]any) {
		for _, v := range item.(map[string]any)["versions"].([]any) {
			for _, r := range v.(map[string]any)["resources"].([]any) {
				res := r.(map[string]any)
				if res["resource"] != "pods" {
					continue
				}
				var kept []any
				for _, s := range res["subresources"].([]any) {
					sub := s.(map[string]any)
					if sub["subresource"] == "checkpoint" {
						found = true
						if verbs := sub["verbs"].([]any); len(verbs) != 1 || verbs[0] != "create" {
							t.Errorf("pods/checkpoint in aggregated discovery: %v", sub)
						}
						continue
					}
					kept = append(kept, s)
				}
				res["subresources"] = kept
			}
		}
	}
	if !found {
		t.Error("pods/checkpoint is missing from aggregated discovery")
	}
}

func removeCheckpointOpenAPI(modelsPath ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, doc map[string]any) {
		t.Helper()
		paths := doc["paths"].(map[string]any)
		op, ok := paths[checkpointPath].(map[string]any)
		if !ok {
			t.Fatalf("%s is missing from OpenAPI", checkpointPath)
		}
		if _, ok := op["post"]; !ok || len(op) != 2 { // post and the path parameters
			t.Errorf("%s: want only POST, got %v", checkpointPath, keys(op))
		}
		if params, ok := doc["parameters"].(map[string]any); ok {
			// v2 shares query parameters between paths by reference.
			ours, _ := json.Marshal(op)
			delete(paths, checkpointPath)
			others, _ := json.Marshal(paths)
			for name := range params {
				ref := []byte(`"#/parameters/` + name + `"`)
				if bytes.Contains(ours, ref) && !bytes.Contains(others, ref) {
					delete(params, name)
				}
			}
		}
		delete(paths, checkpointPath)
		schemas := doc
		for _, p := range modelsPath {
			schemas = schemas[p].(map[string]any)
		}
		if _, ok := schemas[resultModel]; !ok {
			t.Errorf("model %s is missing", resultModel)
		}
		delete(schemas, resultModel)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

// TestCheckpointWithoutRBAC: with the RBAC group disabled the checkpoint's
// role hook is not installed (as upstream's bootstrap-roles hook is not), so
// the server becomes ready and still serves pods/checkpoint.
func TestCheckpointWithoutRBAC(t *testing.T) {
	s, err := cluster.StartAPIServer("apiserver-rbac-off", framework.APIServerOptions{
		Binary:            "kube-apiserver",
		EtcdPrefix:        "/rbac-off",
		AuthorizationMode: "AlwaysAllow",
		ExtraArgs: []string{
			"--feature-gates=ContainerCheckpointAPI=true",
			"--runtime-config=rbac.authorization.k8s.io/v1=false",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client := kubernetes.NewForConfigOrDie(s.Admin)
	readyz, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("%v: %s", err, readyz)
	}
	if strings.Contains(string(readyz), "rbac/bootstrap-checkpoint-roles") {
		t.Errorf("the checkpoint's RBAC hook runs without the RBAC group:\n%s", readyz)
	}
	resources, err := client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == "pods/checkpoint" }) {
		t.Error("pods/checkpoint is not served without the RBAC group")
	}
}
