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

package rest

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const (
	checkpointMetricsNamespace = "apiserver"
	checkpointMetricsSubsystem = "pod_checkpoint"
)

var (
	checkpointRequests = metrics.NewCounterVec(
		&metrics.CounterOpts{
			Namespace:      checkpointMetricsNamespace,
			Subsystem:      checkpointMetricsSubsystem,
			Name:           "requests_total",
			Help:           "Counter of pods/checkpoint requests that reached the point of asking a kubelet, by HTTP response code.",
			StabilityLevel: metrics.ALPHA,
		},
		[]string{"code"},
	)
	checkpointRefused = metrics.NewCounterVec(
		&metrics.CounterOpts{
			Namespace:      checkpointMetricsNamespace,
			Subsystem:      checkpointMetricsSubsystem,
			Name:           "refused_total",
			Help:           "Counter of pods/checkpoint requests refused without asking a kubelet to protect a node or an archive, by HTTP response code (429: the node had --checkpoint-max-inflight-per-node in flight; 409: the container already had one; 400: the kubelet could not name the archive; 503: the node is in a condition of --checkpoint-refuse-node-conditions; 501: the node runs an operating system CRIU does not run on).",
			StabilityLevel: metrics.ALPHA,
		},
		[]string{"code"},
	)
	checkpointDuration = metrics.NewHistogramVec(
		&metrics.HistogramOpts{
			Namespace:      checkpointMetricsNamespace,
			Subsystem:      checkpointMetricsSubsystem,
			Name:           "duration_seconds",
			Help:           "Duration of pods/checkpoint requests from asking the kubelet to its answer, by HTTP response code.",
			Buckets:        []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
			StabilityLevel: metrics.ALPHA,
		},
		[]string{"code"},
	)

	claimWrites = metrics.NewCounterVec(
		&metrics.CounterOpts{
			Namespace:      checkpointMetricsNamespace,
			Subsystem:      checkpointMetricsSubsystem,
			Name:           "claim_writes_total",
			Help:           "Counter of the writes of checkpoint claims (Leases in kube-system) this kube-apiserver made through its own storage, not its API, by verb and HTTP response code as apiserver_request_total counts requests (409: another replica wrote the claim first).",
			StabilityLevel: metrics.ALPHA,
		},
		[]string{"verb", "code"},
	)

	registerCheckpointMetricsOnce sync.Once
)

// RegisterCheckpointMetrics registers the checkpoint metrics in the apiserver's
// legacy registry, once.
func RegisterCheckpointMetrics() {
	registerCheckpointMetricsOnce.Do(func() {
		legacyregistry.MustRegister(checkpointRequests, checkpointRefused, checkpointDuration, claimWrites)
	})
}

func recordCheckpoint(code int, took time.Duration) {
	label := strconv.Itoa(code)
	checkpointRequests.WithLabelValues(label).Inc()
	checkpointDuration.WithLabelValues(label).Observe(took.Seconds())
}

func recordRefused(code int) {
	checkpointRefused.WithLabelValues(strconv.Itoa(code)).Inc()
}

// recordClaimWrite counts a write of a claim that would have answered code
// through the API, or err's code.
func recordClaimWrite(verb string, code int, err error) {
	var status apierrors.APIStatus
	switch {
	case err == nil:
	case errors.As(err, &status):
		code = int(status.Status().Code)
	default:
		code = http.StatusInternalServerError
	}
	claimWrites.WithLabelValues(verb, strconv.Itoa(code)).Inc()
}
