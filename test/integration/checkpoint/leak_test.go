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
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestCheckpointsLeakNothing takes 200 checkpoints one after the other and
// reads the apiserver's goroutines and open file descriptors from /metrics
// before and after: every checkpoint must give back what it took.
func TestCheckpointsLeakNothing(t *testing.T) {
	ns := newNamespace(t)
	const pods = 20
	for i := range pods {
		createPod(t, ns, singlePod(fmt.Sprintf("web-%d", i), nodeName))
	}
	kubelet.SetHandler(kubeletArchive)
	// Warm up connections and caches, then measure.
	for i := range pods {
		if _, err := checkpoint(server.Admin, ns, fmt.Sprintf("web-%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	before := apiserverResources(t)
	for i := range 200 {
		// Twenty pods in turn: a container is checkpointed at most once a
		// second, and the loop does not wait on that.
		if _, err := checkpoint(server.Admin, ns, fmt.Sprintf("web-%d", i%pods), nil); err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
	}
	var after map[string]float64
	// Idle connections and finished requests wind down within seconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = apiserverResources(t)
		if (after["go_goroutines"]-before["go_goroutines"] <= 10 && after["process_open_fds"]-before["process_open_fds"] <= 5) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("goroutines %v -> %v, open fds %v -> %v", before["go_goroutines"], after["go_goroutines"], before["process_open_fds"], after["process_open_fds"])
	if grew := after["go_goroutines"] - before["go_goroutines"]; grew > 10 {
		t.Errorf("200 checkpoints left %v more goroutines", grew)
	}
	if grew := after["process_open_fds"] - before["process_open_fds"]; grew > 5 {
		t.Errorf("200 checkpoints left %v more open file descriptors", grew)
	}
}

var gauge = regexp.MustCompile(`(?m)^(go_goroutines|process_open_fds) ([0-9.e+]+)$`)

func apiserverResources(t *testing.T) map[string]float64 {
	t.Helper()
	metrics, err := admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, m := range gauge.FindAllStringSubmatch(string(metrics), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		values[m[1]] = v
	}
	if len(values) != 2 {
		t.Fatalf("/metrics lacks go_goroutines or process_open_fds: %v", values)
	}
	return values
}
