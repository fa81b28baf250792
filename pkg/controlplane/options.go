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

package controlplane

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
)

// CheckpointOptions are the kube-apiserver flags of the checkpoint subresource.
type CheckpointOptions struct {
	// DefaultTimeout bounds a checkpoint whose request names no timeoutSeconds.
	DefaultTimeout time.Duration
	// MaxTimeout is the largest timeoutSeconds a request may ask for.
	MaxTimeout time.Duration
	// MaxInflightPerNode bounds the checkpoints in flight per node; 0 for none.
	MaxInflightPerNode int
	// InflightWait is how long a checkpoint waits for a place on its node.
	InflightWait time.Duration
	// RefuseNodeConditions are the node conditions, TYPE=STATUS, in which
	// no container of the node is checkpointed.
	RefuseNodeConditions []string
	// NodeDiskReserve is what an archive must leave free on its node's
	// kubelet file system, a percentage or a quantity; empty asks nothing.
	NodeDiskReserve string
}

// NewCheckpointOptions returns the defaults: the kubelet's own default runtime
// request timeout, and half an hour for the largest containers.
func NewCheckpointOptions() *CheckpointOptions {
	return &CheckpointOptions{
		DefaultTimeout: 2 * time.Minute,
		MaxTimeout:     30 * time.Minute,
		// A checkpoint freezes its container and writes its memory to disk;
		// a few at once per node keep both short.
		MaxInflightPerNode: 4,
		// A burst of checkpoints is served at the node's pace; one small
		// checkpoint takes well under a second.
		InflightWait:         30 * time.Second,
		RefuseNodeConditions: append([]string(nil), podrest.DefaultRefuseNodeConditions...),
		NodeDiskReserve:      podrest.DefaultDiskReserve,
	}
}

// AddFlags adds the checkpoint flags to fs.
func (o *CheckpointOptions) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.DefaultTimeout, "checkpoint-default-timeout", o.DefaultTimeout,
		"How long a pods/checkpoint request may take when it names no timeoutSeconds, in whole seconds. "+
			"Checkpoints are long-running requests: --request-timeout does not cut them. Needs the ContainerCheckpointAPI feature gate.")
	fs.DurationVar(&o.MaxTimeout, "checkpoint-max-timeout", o.MaxTimeout,
		"The largest timeoutSeconds a pods/checkpoint request may ask for, in whole seconds; larger values are refused with 400. Needs the ContainerCheckpointAPI feature gate.")
	fs.IntVar(&o.MaxInflightPerNode, "checkpoint-max-inflight-per-node", o.MaxInflightPerNode,
		"The largest number of pods/checkpoint requests that run at once against one node, counted over every kube-apiserver of the cluster (with Leases in kube-system; give every replica the same value); more wait up to --checkpoint-inflight-wait for a place, then are refused with 429 and Retry-After. 0 means no limit. Needs the ContainerCheckpointAPI feature gate.")
	fs.DurationVar(&o.InflightWait, "checkpoint-inflight-wait", o.InflightWait,
		"How long a pods/checkpoint request whose node already has --checkpoint-max-inflight-per-node checkpoints in flight waits for one of them to end before it is refused with 429. 0 refuses at once. Needs the ContainerCheckpointAPI feature gate.")
	fs.StringSliceVar(&o.RefuseNodeConditions, "checkpoint-refuse-node-conditions", o.RefuseNodeConditions,
		"The node conditions, TYPE=STATUS (STATUS True, False or Unknown), in which no container of the node is checkpointed: a pods/checkpoint request for a pod on such a node is refused with 503 and Retry-After before its kubelet is asked. An empty value refuses none. Needs the ContainerCheckpointAPI feature gate.")
	fs.StringVar(&o.NodeDiskReserve, "checkpoint-node-disk-reserve", o.NodeDiskReserve,
		"What a checkpoint must leave free on the file system of its node's kubelet root directory, where the archive is written: a percentage of it (15%, which keeps the node out of the kubelet's default hard eviction threshold, nodefs.available<10%) or a quantity (20Gi). Before the checkpoint the apiserver asks the pod's kubelet for its summary (/stats/summary, beside the claims, within 2s; one summary serves the node's checkpoints for 10s, the archives let through since counted against it) and refuses with 507 an archive, estimated from the container's memory and writable layer, that would leave less free; a kubelet that does not answer in time does not hold the checkpoint up. An empty value asks nothing. Needs the ContainerCheckpointAPI feature gate.")
}

// DiskReserve returns the parsed --checkpoint-node-disk-reserve, which
// Validate has checked; nil when it is empty.
func (o *CheckpointOptions) DiskReserve() *podrest.DiskReserve {
	if o.NodeDiskReserve == "" {
		return nil
	}
	reserve, _ := podrest.ParseDiskReserve(o.NodeDiskReserve)
	return &reserve
}

// NodeConditions returns the parsed --checkpoint-refuse-node-conditions,
// which Validate has checked.
func (o *CheckpointOptions) NodeConditions() []podrest.NodeCondition {
	conditions, _ := podrest.ParseNodeConditions(o.RefuseNodeConditions)
	return conditions
}

// Validate checks the flags.
func (o *CheckpointOptions) Validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"--checkpoint-default-timeout": o.DefaultTimeout, "--checkpoint-max-timeout": o.MaxTimeout} {
		if d < time.Second || d%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s must be a whole number of seconds, at least 1s, got %s", name, d))
		}
	}
	if o.InflightWait < 0 {
		errs = append(errs, fmt.Errorf("--checkpoint-inflight-wait must not be negative, got %s", o.InflightWait))
	}
	if o.MaxInflightPerNode < 0 {
		errs = append(errs, fmt.Errorf("--checkpoint-max-inflight-per-node must not be negative, got %d", o.MaxInflightPerNode))
	}
	if _, err := podrest.ParseNodeConditions(o.RefuseNodeConditions); err != nil {
		errs = append(errs, fmt.Errorf("--checkpoint-refuse-node-conditions=%s: %w", strings.Join(o.RefuseNodeConditions, ","), err))
	}
	if o.NodeDiskReserve != "" {
		if _, err := podrest.ParseDiskReserve(o.NodeDiskReserve); err != nil {
			errs = append(errs, fmt.Errorf("--checkpoint-node-disk-reserve: %w", err))
		}
	}
	if o.DefaultTimeout > o.MaxTimeout {
		errs = append(errs, fmt.Errorf("--checkpoint-default-timeout (%s) must not exceed --checkpoint-max-timeout (%s)", o.DefaultTimeout, o.MaxTimeout))
	}
	return errs
}
