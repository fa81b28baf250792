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
	"context"
	"fmt"
	"strconv"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-base/metrics/testutil"

	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
)

// ClaimNames lists the claims of checkpoints (Leases) in the cluster.
func ClaimNames(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	leases, err := claimLeases(ctx, client)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range leases {
		names = append(names, l.Name)
	}
	return names, nil
}

// claimLeases lists the claims of checkpoints.
func claimLeases(ctx context.Context, client kubernetes.Interface) ([]coordinationv1.Lease, error) {
	leases, err := client.CoordinationV1().Leases(podrest.ClaimNamespace).List(ctx, metav1.ListOptions{LabelSelector: podrest.LabelClaim})
	if err != nil {
		return nil, err
	}
	return leases.Items, nil
}

// ClaimedCheckpoints lists the checkpoints the claims of every node list
// (in flight, or answered less than a second ago).
func ClaimedCheckpoints(ctx context.Context, client kubernetes.Interface) ([]podrest.ClaimedCheckpoint, error) {
	leases, err := claimLeases(ctx, client)
	if err != nil {
		return nil, err
	}
	var all []podrest.ClaimedCheckpoint
	for _, l := range leases {
		list, err := podrest.ClaimedCheckpoints(&l)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	return all, nil
}

// LeaseWrites adds to writes the Lease writes one apiserver served, by verb
// and code ("POST 201"), read from its /metrics text: those its API served
// (the replicas' identity Leases, and an operator's) and the claims it wrote
// through its own storage.
func LeaseWrites(metricsText string, writes map[string]float64) error {
	metrics := testutil.NewMetrics()
	if err := testutil.ParseMetrics(metricsText, &metrics); err != nil {
		return err
	}
	AddLeaseWrites(metrics, "apiserver_request_total", 1, writes)
	AddLeaseWrites(metrics, ClaimWritesMetric, 1, writes)
	return nil
}

// ClaimWritesMetric counts the claims an apiserver wrote through its own
// storage, by verb and code.
const ClaimWritesMetric = "apiserver_pod_checkpoint_claim_writes_total"

// AddLeaseWrites adds to writes, by verb and code ("POST 201"), sign times
// the writes that the series of name count: of Leases, where a series names
// its resource (apiserver_request_total).
func AddLeaseWrites(metrics testutil.Metrics, name string, sign float64, writes map[string]float64) {
	for _, sample := range metrics[name] {
		verb := string(sample.Metric["verb"])
		switch verb {
		case "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		if resource, ok := sample.Metric["resource"]; ok && resource != "leases" {
			continue
		}
		writes[verb+" "+string(sample.Metric["code"])] += sign * float64(sample.Value)
	}
}

// PositiveInts parses a comma-separated list of positive numbers.
func PositiveInts(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
