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
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
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
	// Idle connections and finished requests wind down within seconds; past
	// the deadline the checks below report what is left.
	_ = wait.PollUntilContextTimeout(context.Background(), time.Second, 30*time.Second, true, func(context.Context) (bool, error) {
		after = apiserverResources(t)
		return after["go_goroutines"]-before["go_goroutines"] <= 10 && after["process_open_fds"]-before["process_open_fds"] <= 5, nil
	})
	t.Logf("goroutines %v -> %v, open fds %v -> %v", before["go_goroutines"], after["go_goroutines"], before["process_open_fds"], after["process_open_fds"])
	if grew := after["go_goroutines"] - before["go_goroutines"]; grew > 10 {
		t.Errorf("200 checkpoints left %v more goroutines", grew)
	}
	if grew := after["process_open_fds"] - before["process_open_fds"]; grew > 5 {
		t.Errorf("200 checkpoints left %v more open file descriptors", grew)
	}
}

// apiserverResources reads the apiserver's goroutines and open file
// descriptors from its /metrics.
func apiserverResources(t *testing.T) map[string]float64 {
	t.Helper()
	values := map[string]float64{}
	for name, samples := range serverMetrics(t) {
		if (name == "go_goroutines" || name == "process_open_fds") && len(samples) == 1 {
			values[name] = float64(samples[0].Value)
		}
	}
	if len(values) != 2 {
		t.Fatalf("/metrics lacks go_goroutines or process_open_fds: %v", values)
	}
	return values
}
