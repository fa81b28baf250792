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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/klog/v2"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/clock"

	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

// The disk of the node: before its kubelet is asked for an archive, it is
// asked what it already serves the apiserver (the summary API), and an
// archive that would leave less than the reserve free is refused with 507.

// DiskReserve is what a checkpoint must leave free on the file system of the
// kubelet's root directory, where archives are written
// (--checkpoint-node-disk-reserve): a share of it, or bytes.
type DiskReserve struct {
	// Percent of the file system's capacity, when Bytes is 0.
	Percent int64
	// Bytes, when not 0.
	Bytes int64
	// text is the reserve as the flag wrote it.
	text string
}

// DefaultDiskReserve keeps the node out of the kubelet's default hard
// eviction threshold (nodefs.available<10%) with 5% of margin.
const DefaultDiskReserve = "15%"

// ParseDiskReserve reads a reserve written as a percentage ("15%") or a
// quantity ("20Gi"); "0" reserves nothing.
func ParseDiskReserve(s string) (DiskReserve, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || n >= 100 {
			return DiskReserve{}, fmt.Errorf("%q is not a disk reserve: a percentage is a whole number from 0 to 99", s)
		}
		return DiskReserve{Percent: n, text: s}, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() < 0 {
		return DiskReserve{}, fmt.Errorf("%q is not a disk reserve: write a percentage of the file system (15%%) or a quantity of bytes (20Gi)", s)
	}
	return DiskReserve{Bytes: q.Value(), text: s}, nil
}

// of is the reserve on a file system of capacity bytes.
func (d DiskReserve) of(capacity uint64) uint64 {
	if d.Bytes > 0 {
		return uint64(d.Bytes)
	}
	return capacity / 100 * uint64(d.Percent)
}

func (d DiskReserve) String() string {
	if d.text != "" {
		return d.text
	}
	if d.Bytes > 0 {
		return resource.NewQuantity(d.Bytes, resource.BinarySI).String()
	}
	return strconv.FormatInt(d.Percent, 10) + "%"
}

// SummaryTimeout bounds the question to the kubelet about its disk. A
// kubelet that does not answer in time, or answers what cannot be read, does
// not hold the checkpoint up: it goes ahead unchecked, as before the question
// was asked (the kubelet still fails an archive that does not fit, after
// the container was frozen and thawed).
const SummaryTimeout = 2 * time.Second

// maxSummary bounds what is read of the kubelet's summary: a few KiB a pod.
const maxSummary = 16 << 20

// archiveOverhead is what an archive holds beyond the container's memory and
// writable layer: CRIU's images of its processes, files and sockets, the
// runtime's spec and the tar headers.
const archiveOverhead = 1 << 20

// diskUse is what the kubelet reports of its root file system and of the
// container to be checkpointed.
type diskUse struct {
	available, capacity uint64
	// estimate is the archive's size as EstimateArchive makes it.
	estimate uint64
	// pending is what the archives checkpointed on the node since the
	// summary are estimated at, already taken from available.
	pending uint64
}

// errNoSummary is a summary that says nothing of the disk or the container.
var errNoSummary = errors.New("the kubelet's summary lacks the node's file system or the container")

// nodeSummary is what a checkpoint needs of a node's summary: its root file
// system and the archive of each of its containers, estimated.
type nodeSummary struct {
	available, capacity uint64
	// archives are by namespace, pod name and container.
	archives map[[3]string]podArchive
}

// podArchive is the estimated archive of a container of the pod with uid.
type podArchive struct {
	uid      string
	estimate uint64
}

// parseSummary reads the disk and the containers' use from the kubelet's
// summary (/stats/summary).
func parseSummary(body []byte) (*nodeSummary, error) {
	var summary statsapi.Summary
	if err := json.Unmarshal(body, &summary); err != nil {
		return nil, err
	}
	fs := summary.Node.Fs
	if fs == nil || fs.AvailableBytes == nil || fs.CapacityBytes == nil || *fs.AvailableBytes > *fs.CapacityBytes {
		return nil, errNoSummary
	}
	n := &nodeSummary{available: *fs.AvailableBytes, capacity: *fs.CapacityBytes, archives: map[[3]string]podArchive{}}
	for _, p := range summary.Pods {
		for _, c := range p.Containers {
			n.archives[[3]string{p.PodRef.Namespace, p.PodRef.Name, c.Name}] = podArchive{uid: p.PodRef.UID, estimate: EstimateArchive(c)}
		}
	}
	return n, nil
}

// use is what the summary says of the target's container.
func (n *nodeSummary) use(t *pod.CheckpointTarget) (diskUse, bool) {
	a, ok := n.archives[[3]string{t.Pod.Namespace, t.Pod.Name, t.Container}]
	if !ok || (a.uid != "" && a.uid != string(t.Pod.UID)) {
		return diskUse{}, false
	}
	return diskUse{available: n.available, capacity: n.capacity, estimate: a.estimate}, true
}

// EstimateArchive estimates the archive of a container from its memory and
// its writable layer: CRIU writes every page the container's processes hold
// (their resident set; the working set where the runtime reports no RSS),
// and the runtime adds the files changed in the writable layer.
func EstimateArchive(c statsapi.ContainerStats) uint64 {
	var memory, layer uint64
	if m := c.Memory; m != nil {
		switch {
		case m.RSSBytes != nil && *m.RSSBytes > 0:
			memory = *m.RSSBytes
		case m.WorkingSetBytes != nil:
			memory = *m.WorkingSetBytes
		}
	}
	if c.Rootfs != nil && c.Rootfs.UsedBytes != nil {
		layer = *c.Rootfs.UsedBytes
	}
	return saturatingAdd(saturatingAdd(memory, layer), archiveOverhead)
}

func saturatingAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// maxRefusalBody is as much of a refused summary's body as is read to keep
// its connection to the kubelet open.
const maxRefusalBody = 64 << 10

// askSummary asks the pod's kubelet for its summary, within SummaryTimeout,
// and reads what archives need from it; an error says why nothing could be
// read.
func askSummary(ctx context.Context, t *pod.CheckpointTarget) (*nodeSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, SummaryTimeout)
	defer cancel()
	u := *t.Location
	u.Path, u.RawQuery = "/stats/summary", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: t.Node.Transport, CheckRedirect: genericrest.PreventRedirects}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close() //nolint:errcheck
	if resp.StatusCode != http.StatusOK {
		// Read what little it said, so that the connection serves the
		// checkpoint next rather than being closed.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRefusalBody))
		return nil, fmt.Errorf("the kubelet answered the summary with HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSummary+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxSummary {
		return nil, fmt.Errorf("the kubelet's summary is larger than %d bytes", maxSummary)
	}
	return parseSummary(body)
}

// SummaryMaxAge is how long one summary of a node serves the checkpoints of
// its containers before it is asked anew. The kubelet itself refreshes a
// container's memory and writable-layer use only every 10 s or so, so a
// younger summary would say little more; asking once per node and period
// keeps the question off the path of most checkpoints. What the archives let
// through since are estimated at is counted against the space the summary
// reported free.
const SummaryMaxAge = 10 * time.Second

// SummaryStaleAge is how long an older summary still serves while a newer one
// is asked in the background, so that a node checkpointed steadily never has
// a checkpoint wait for its kubelet's summary; a summary older than this is
// asked anew before the checkpoint goes on.
const SummaryStaleAge = time.Minute

// nodeDisks holds the latest summary of each node checkpointed within
// SummaryStaleAge, asked once per node at a time.
type nodeDisks struct {
	mu    sync.Mutex
	nodes map[string]*nodeDisk
	// refreshed is told of each summary asked in the background, for tests.
	refreshed func()
}

// nodeDisk is one question about a node's disk: ready is closed once the
// summary or err is in.
type nodeDisk struct {
	ready   chan struct{}
	asked   time.Time
	summary *nodeSummary
	err     error
	// spent is the estimate of every archive let through since the summary
	// was taken; refreshing is whether a newer summary is being asked in the
	// background. mu (of nodeDisks) guards both.
	spent      uint64
	refreshing bool
	// refreshAsked and refreshSpent are when the newer summary was asked
	// and what spent was then.
	refreshAsked time.Time
	refreshSpent uint64
	// next is the newer summary asked in the background that took this
	// one's place: an archive admitted after it came is counted there.
	next *nodeDisk
}

// ask returns the node's disk and the use of the target's container from a
// summary younger than SummaryStaleAge (one older than SummaryMaxAge is asked
// anew in the background once after is closed: a summary costs the kubelet
// and its runtime tens of milliseconds of CPU, which would slow the
// checkpoint it ran beside), asking the kubelet first when there is
// none (once, however many checkpoints of the node wait for it), when the
// last question got no summary, or when the summary does not know the
// container yet (a pod started since). The question outlives a client that
// leaves: others may be waiting for it.
func (d *nodeDisks) ask(ctx context.Context, clk clock.Clock, t *pod.CheckpointTarget, after <-chan struct{}) (*nodeDisk, diskUse, error) {
	for fresh := false; ; fresh = true {
		disk, asking, refresh := d.get(clk, t.Pod.Spec.NodeName, fresh)
		if refresh {
			go func() {
				<-after
				d.refresh(context.WithoutCancel(ctx), t, disk)
			}()
		}
		if asking {
			disk.summary, disk.err = askSummary(context.WithoutCancel(ctx), t)
			close(disk.ready)
		}
		select {
		case <-disk.ready:
		case <-ctx.Done():
			return nil, diskUse{}, ctx.Err()
		}
		if disk.err != nil {
			return nil, diskUse{}, disk.err
		}
		if use, ok := disk.summary.use(t); ok {
			return disk, use, nil
		}
		if asking || fresh {
			return nil, diskUse{}, errNoSummary
		}
	}
}

// get returns the node's question, whether the caller is to ask it, and
// whether the caller is to ask a newer one in the background while this one
// serves. The caller asks a new one when the last is SummaryStaleAge old or
// was not answered, or when fresh and the last is answered; in the background
// when the last is SummaryMaxAge old and nobody is asking yet. Questions too
// old to serve are dropped.
func (d *nodeDisks) get(clk clock.Clock, node string, fresh bool) (disk *nodeDisk, ask, refresh bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := clk.Now()
	if disk, ok := d.nodes[node]; ok && now.Sub(disk.asked) < SummaryStaleAge {
		select {
		case <-disk.ready:
			if !fresh && disk.err == nil {
				refresh := now.Sub(disk.asked) >= SummaryMaxAge && !disk.refreshing
				if refresh {
					disk.refreshing, disk.refreshAsked, disk.refreshSpent = true, now, disk.spent
				}
				return disk, false, refresh
			}
		default:
			return disk, false, false // being asked: wait for it
		}
	}
	if d.nodes == nil {
		d.nodes = map[string]*nodeDisk{}
	}
	for name, disk := range d.nodes {
		if now.Sub(disk.asked) >= SummaryStaleAge {
			delete(d.nodes, name)
		}
	}
	disk = &nodeDisk{ready: make(chan struct{}), asked: now}
	d.nodes[node] = disk
	return disk, true, false
}

// refresh asks the node's kubelet for a newer summary than old and, when it
// gets one, puts it in old's place, counting against it the archives let
// through while it was asked. A summary that cannot be had leaves old to
// serve until it is SummaryStaleAge old.
func (d *nodeDisks) refresh(ctx context.Context, t *pod.CheckpointTarget, old *nodeDisk) {
	if d.refreshed != nil {
		defer d.refreshed()
	}
	summary, err := askSummary(ctx, t)
	d.mu.Lock()
	defer d.mu.Unlock()
	old.refreshing = false
	if err != nil {
		klog.V(2).InfoS("The node's summary could not be asked anew: the older one serves", "node", t.Pod.Spec.NodeName, "err", err)
		return
	}
	disk := &nodeDisk{ready: make(chan struct{}), asked: old.refreshAsked, summary: summary, spent: old.spent - old.refreshSpent}
	close(disk.ready)
	old.next = disk
	if d.nodes[t.Pod.Spec.NodeName] == old {
		d.nodes[t.Pod.Spec.NodeName] = disk
	}
}

// admit decides whether the archive fits the node's disk, by the newest
// summary and counting the archives let through since it, and counts this
// one when it does.
func (d *nodeDisks) admit(disk *nodeDisk, t *pod.CheckpointTarget, use diskUse, reserve DiskReserve) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for disk.next != nil {
		disk = disk.next
		use.available, use.capacity = disk.summary.available, disk.summary.capacity
	}
	use.pending = min(use.available, disk.spent)
	use.available -= use.pending
	if err := diskRefuses(t, use, reserve); err != nil {
		return err
	}
	disk.spent = saturatingAdd(disk.spent, use.estimate)
	return nil
}

// StatusReasonInsufficientStorage is the reason of a checkpoint refused
// because its archive would not leave the node's reserve free.
const StatusReasonInsufficientStorage metav1.StatusReason = "InsufficientStorage"

// diskRefuses is the 507 of an archive that would leave less than the
// reserve free on the node; nil when it fits.
func diskRefuses(t *pod.CheckpointTarget, use diskUse, reserve DiskReserve) error {
	keep := reserve.of(use.capacity)
	if use.available >= keep && use.available-keep >= use.estimate {
		return nil
	}
	free := fmt.Sprintf("%s free of %s", bytesText(use.available), bytesText(use.capacity))
	if use.pending > 0 {
		free += fmt.Sprintf(" (%s as the kubelet last reported, less %s estimated for the archives checkpointed on it since)", bytesText(use.available+use.pending), bytesText(use.pending))
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusInsufficientStorage,
		Reason: StatusReasonInsufficientStorage,
		Message: fmt.Sprintf("the archive of container %s of pod %s/%s would not fit on node %s: it is estimated at %s (the container's memory and writable layer), the file system of the kubelet's root directory has %s, and kube-apiserver keeps %s of it free (--checkpoint-node-disk-reserve=%s) so that the kubelet does not evict pods; free space on the node, or checkpoint a smaller container",
			t.Container, t.Pod.Namespace, t.Pod.Name, t.Pod.Spec.NodeName, bytesText(use.estimate), free, bytesText(keep), reserve),
		Details: &metav1.StatusDetails{Name: t.Pod.Name, Kind: "pods"},
	}}
}

// bytesText writes n bytes as a quantity a user reads (1.5Gi, 300Mi).
func bytesText(n uint64) string {
	const mi = 1 << 20
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "Gi"
	case n >= mi:
		return strconv.FormatUint((n+mi/2)/mi, 10) + "Mi"
	}
	return strconv.FormatUint(n, 10) + " bytes"
}
