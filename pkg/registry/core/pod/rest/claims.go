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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

// The claims of checkpoints are coordination.k8s.io/v1 Leases in kube-system,
// where only cluster administrators and the control plane may write, written
// with optimistic concurrency as leader election and node heartbeats are (by
// the apiserver through its own storage, see storeLeases; watched through its
// API). A node has one claim, which lists the checkpoints of its
// containers in flight and those answered less than a second ago, whichever
// replica serves them: a container lives on one node, so one write of its
// node's claim both claims the container and takes a place on the node.
const (
	// ClaimNamespace holds every claim.
	ClaimNamespace = metav1.NamespaceSystem
	// LabelClaim marks a claim. List them with
	// kubectl get leases -n kube-system -l checkpoint.kubernetes.io/claim
	LabelClaim = "checkpoint.kubernetes.io/claim"
	// ClaimNode is LabelClaim's value: the claim of a node.
	ClaimNode = "node"
	// LabelNode is a digest of the claim's node name (a node name may be
	// longer than a label value).
	LabelNode = "checkpoint.kubernetes.io/node-digest"
	// AnnotationNode names the claim's node in full.
	AnnotationNode = "checkpoint.kubernetes.io/node"
	// AnnotationCheckpoints lists the node's claimed checkpoints as JSON
	// (ClaimedCheckpoint).
	AnnotationCheckpoints = "checkpoint.kubernetes.io/checkpoints"
)

const (
	// archiveSpacing is the time between the end of one checkpoint of a
	// container and the start of the next: the kubelet names an archive by
	// the second its checkpoint started on the node.
	archiveSpacing = time.Second
	// claimPoll is how often a checkpoint that waits reads its claim
	// again, in case the watch of the claims is late.
	claimPoll = time.Second
	// claimGCPeriod is how often every replica deletes the claims that
	// expired: those of an apiserver that stopped in the middle of a
	// checkpoint. No claim outlives its expiry by more than this.
	claimGCPeriod = 30 * time.Second
	// claimWriteTimeout bounds the writes that give a claim back.
	claimWriteTimeout = 10 * time.Second
	// claimClockSkew is how far the clocks of two replicas may disagree
	// when one tells whether a checkpoint the other served was answered
	// before it was asked for the next: one that ended within it is taken
	// as answered (the next waits for the second), not as in flight (409).
	claimClockSkew = 250 * time.Millisecond
	// claimGrace is how long a checkpoint waits for the end of one of its
	// container listed in flight through another replica, which writes it
	// after its client has its answer: the end's time, not this wait, tells
	// whether it was in flight when this one was asked (409).
	claimGrace = 5 * time.Second
	// claimAttempts bounds the writes of a claim that keep losing races.
	claimAttempts = 10
)

// ClaimedCheckpoint is a checkpoint a node's claim lists.
type ClaimedCheckpoint struct {
	// Pod is namespace/name, Container the container's name.
	Pod       string `json:"pod"`
	Container string `json:"container"`
	// Holder is the apiserver replica that serves it (ClaimHolder).
	Holder string `json:"holder"`
	// Since is when it was claimed and Until when the claim expires unless
	// given back first, on the holder's clock.
	Since metav1.MicroTime `json:"since"`
	Until metav1.MicroTime `json:"until"`
	// Ended is when its holder answered it, written once the client has
	// its answer; it is taken out of the list a second after.
	Ended *metav1.MicroTime `json:"ended,omitempty"`
}

// ClaimedCheckpoints reads the checkpoints a node's claim lists.
func ClaimedCheckpoints(l *coordinationv1.Lease) ([]ClaimedCheckpoint, error) {
	var list []ClaimedCheckpoint
	if raw := l.Annotations[AnnotationCheckpoints]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return nil, fmt.Errorf("the checkpoint claim %s/%s: %w", l.Namespace, l.Name, err)
		}
	}
	return list, nil
}

func (e *ClaimedCheckpoint) key() string { return e.Pod + "/" + e.Container }

// id tells apart two checkpoints of a container.
func (e *ClaimedCheckpoint) id() string { return checkpointID(e.key(), e.Since) }

func checkpointID(key string, since metav1.MicroTime) string {
	return key + "@" + since.UTC().Format(time.RFC3339Nano)
}

// Claims keeps the checkpoints of every kube-apiserver replica apart:
//   - one checkpoint of a container in flight at a time, whichever replica
//     serves it, and the next one at least a second after (the kubelet names
//     an archive by the second, so a second checkpoint within it would
//     overwrite the first);
//   - at most MaxPerNode checkpoints in flight on a node in the whole
//     cluster; one more waits up to Wait for a place.
//
// A checkpoint costs its node's claim at most three writes: one before the
// kubelet is asked, which adds it; its end, once the client has its answer;
// and a second after that, one that takes it out, or deletes the claim when
// it was the last. A checkpoint listed expires after its timeout and the
// kubelet's grace, so that a replica that died in the middle of one blocks
// nobody for longer; every replica deletes the claims whose checkpoints all
// expired or ended. Expiry compares the holder's clock with this replica's,
// as upstream's garbage collection of apiserver identity leases does; the
// spacing of two checkpoints of a container never compares the clocks of two
// replicas.
type Claims struct {
	leases   leaseWriter
	informer cache.SharedIndexInformer
	start    func(stop <-chan struct{})
	holder   string
	max      int
	wait     time.Duration
	clock    clock.WithTickerAndDelayedExecution

	// background are the writes that give claims back after the client got
	// its answer; Run waits for them as it ends.
	background sync.WaitGroup

	mu    sync.Mutex
	nodes map[string]*nodeClaim // by Lease name
}

// nodeClaim is what this replica knows of a node's claim. c.mu guards it but
// write, which orders this replica's writes of the claim.
type nodeClaim struct {
	name, node string
	write      sync.Mutex
	// latest is the claim as this replica last wrote or read it, newer than
	// the watch's until the watch catches up; gone is the resourceVersion
	// the watch showed when the claim was read as deleted.
	latest *coordinationv1.Lease
	gone   string
	// changed is closed when the claim changed.
	changed chan struct{}
	// seen is when this replica first saw each ended checkpoint listed
	// (by key and start); own are the checkpoints it serves (by key).
	seen map[string]time.Time
	own  map[string]*ownCheckpoint
	// users are the checkpoints and timers of this replica that use it.
	users int
}

type ownCheckpoint struct {
	since    metav1.MicroTime
	answered time.Time // zero while in flight
}

// ClaimHolder names an apiserver replica in the claims it writes, as an
// operator finds it: its host and the address it advertises. (The
// apiserver's ID is derived from the host name alone, so it does not tell
// apart replicas that share a host.)
func ClaimHolder(apiserverID string, advertised net.IP) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = apiserverID
	}
	if advertised == nil {
		return host
	}
	return host + "/" + advertised.String()
}

// NewClaims keeps checkpoints apart through the claims in client's cluster.
// holder names this replica in the claims it writes; maxPerNode <= 0 bounds
// no node. Run must be called for the watch of the claims and their garbage
// collection; without it claims still work, reading from the API.
func NewClaims(client kubernetes.Interface, holder string, maxPerNode int, wait time.Duration, clk clock.WithTickerAndDelayedExecution) *Claims {
	if clk == nil {
		clk = clock.RealClock{}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ClaimNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelClaim }))
	c := &Claims{
		leases:   client.CoordinationV1().Leases(ClaimNamespace),
		informer: factory.Coordination().V1().Leases().Informer(),
		start:    factory.Start,
		holder:   holder,
		max:      maxPerNode,
		wait:     wait,
		clock:    clk,
		nodes:    map[string]*nodeClaim{},
	}
	changed := func(obj any, deleted bool) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if l, ok := obj.(*coordinationv1.Lease); ok {
			c.watched(l, deleted)
		}
	}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { changed(obj, false) },
		UpdateFunc: func(_, obj any) { changed(obj, false) },
		DeleteFunc: func(obj any) { changed(obj, true) },
	})
	return c
}

// Run watches the claims and deletes the expired ones until ctx ends, then
// waits for the claims being given back.
func (c *Claims) Run(ctx context.Context) {
	defer c.background.Wait()
	c.start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return
	}
	ticker := c.clock.NewTicker(claimGCPeriod)
	defer ticker.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// collect deletes the claims that nothing holds any more: every checkpoint
// they list expired or was answered over a second ago, none of this
// replica's. Another replica may be deleting them too, and one written
// meanwhile is left alone.
func (c *Claims) collect(ctx context.Context) {
	now := c.clock.Now()
	for _, obj := range c.informer.GetStore().List() {
		l, ok := obj.(*coordinationv1.Lease)
		if !ok {
			continue
		}
		if !expired(l, now) {
			if l.Annotations[AnnotationCheckpoints] == "" {
				continue // an earlier version's claim: until it expires
			}
			nc := c.use(l.Annotations[AnnotationNode])
			kept, _, _ := c.look(nc, l, "", now)
			c.unuse(nc)
			if len(kept) > 0 || nc.name != l.Name {
				continue
			}
		}
		err := c.leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}})
		switch {
		case err == nil:
			klog.FromContext(ctx).Info("Deleted a checkpoint claim nothing holds", "lease", klog.KObj(l), "holder", ptr.Deref(l.Spec.HolderIdentity, ""))
		case lostRace(err):
		default:
			klog.FromContext(ctx).Error(err, "Cannot delete a checkpoint claim nothing holds", "lease", klog.KObj(l))
		}
	}
}

// Max is the bound per node, 0 for none.
func (c *Claims) Max() int {
	if c == nil || c.max <= 0 {
		return 0
	}
	return c.max
}

// Wait is how long a checkpoint waits for a place on its node.
func (c *Claims) Wait() time.Duration {
	if c == nil {
		return 0
	}
	return c.wait
}

// watched notes what the watch shows of a node's claim: when each
// checkpoint it lists was first seen ended, so that its second counts from
// then, and a delete newer than the claim as this replica last wrote or read
// it; what is known of a node is kept while its claim exists or a
// checkpoint of this replica uses it.
func (c *Claims) watched(l *coordinationv1.Lease, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nc := c.nodes[l.Name]
	switch {
	case nc == nil && (deleted || l.Annotations[AnnotationCheckpoints] == ""):
		return
	case nc == nil:
		nc = c.newNodeClaim(l.Name, l.Annotations[AnnotationNode])
	case deleted && nc.users == 0:
		delete(c.nodes, l.Name)
	}
	if deleted && nc.latest != nil && !newer(nc.latest.ResourceVersion, l.ResourceVersion) {
		// Deleted since this replica last wrote or read it, by another.
		nc.latest, nc.gone = nil, l.ResourceVersion
	}
	if !deleted {
		list, _ := ClaimedCheckpoints(l)
		now := c.clock.Now()
		for _, e := range list {
			if id := e.id(); e.Ended != nil && nc.seen[id].IsZero() {
				nc.seen[id] = now
			}
		}
	}
	nc.wake()
}

// newNodeClaim starts what this replica knows of a node's claim. c.mu must
// be held.
func (c *Claims) newNodeClaim(name, node string) *nodeClaim {
	nc := &nodeClaim{name: name, node: node, changed: make(chan struct{}), seen: map[string]time.Time{}, own: map[string]*ownCheckpoint{}}
	c.nodes[name] = nc
	return nc
}

// use returns what this replica knows of node's claim, kept until unuse.
func (c *Claims) use(node string) *nodeClaim {
	name := "checkpoint-node-" + digest(node, 16)
	c.mu.Lock()
	defer c.mu.Unlock()
	nc := c.nodes[name]
	if nc == nil {
		nc = c.newNodeClaim(name, node)
	}
	nc.users++
	return nc
}

func (c *Claims) unuse(nc *nodeClaim) {
	_, exists, _ := c.informer.GetStore().GetByKey(ClaimNamespace + "/" + nc.name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if nc.users--; nc.users == 0 && !exists {
		delete(c.nodes, nc.name)
	}
}

// wake tells whoever waits on the claim that it changed. c.mu must be held.
func (nc *nodeClaim) wake() {
	close(nc.changed)
	nc.changed = make(chan struct{})
}

// view is the newest of the claim as this replica last wrote or read it and
// as its watch shows it; nil when there is none.
func (c *Claims) view(nc *nodeClaim) *coordinationv1.Lease {
	var watched *coordinationv1.Lease
	if obj, ok, _ := c.informer.GetStore().GetByKey(ClaimNamespace + "/" + nc.name); ok {
		watched = obj.(*coordinationv1.Lease)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case watched == nil:
		return nc.latest
	case nc.gone != "" && !newer(watched.ResourceVersion, nc.gone):
		return nc.latest
	case nc.latest == nil || newer(watched.ResourceVersion, nc.latest.ResourceVersion):
		return watched
	}
	return nc.latest
}

// newer reports whether resourceVersion a is later than b.
func newer(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x > y
}

// look sorts the checkpoints the claim lists, as of now: those expired or
// ended over a second ago are dropped, key's (if any) is returned apart,
// and the others are kept; inFlight counts the kept ones not ended. An
// ended checkpoint is one whose end is listed or, of this replica's, was
// answered; its second counts from when this replica answered it or first
// saw it ended.
func (c *Claims) look(nc *nodeClaim, l *coordinationv1.Lease, key string, now time.Time) (kept []ClaimedCheckpoint, inFlight int, same *ClaimedCheckpoint) {
	if l == nil {
		return nil, 0, nil
	}
	list, err := ClaimedCheckpoints(l)
	if err != nil {
		klog.ErrorS(err, "Ignoring the checkpoints a claim lists")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	listed := map[string]bool{}
	defer func() {
		for id := range nc.seen {
			if !listed[id] {
				delete(nc.seen, id)
			}
		}
	}()
	for _, e := range list {
		listed[e.id()] = true
		if !now.Before(e.Until.Time) {
			continue
		}
		ended, endedAt := c.ended(nc, &e, now)
		if ended && !now.Before(endedAt.Add(archiveSpacing)) {
			continue
		}
		if e.key() == key {
			same = &e
			continue
		}
		if !ended {
			inFlight++
		}
		kept = append(kept, e)
	}
	return kept, inFlight, same
}

// ended reports whether a checkpoint listed ended, and since when on this
// replica's clock. c.mu must be held.
func (c *Claims) ended(nc *nodeClaim, e *ClaimedCheckpoint, now time.Time) (bool, time.Time) {
	if own := nc.own[e.key()]; c.mine(e, own) {
		return !own.answered.IsZero(), own.answered
	}
	if e.Ended == nil {
		return false, time.Time{}
	}
	id := e.id()
	seen, ok := nc.seen[id]
	if !ok {
		seen = now
		nc.seen[id] = now
	}
	return true, seen
}

// mine reports whether e is the checkpoint of this replica that own names.
func (c *Claims) mine(e *ClaimedCheckpoint, own *ownCheckpoint) bool {
	return e != nil && own != nil && e.Holder == c.holder && own.since.Equal(&e.Since)
}

// Held is a checkpoint listed in its node's claim by this replica.
type Held struct {
	claims *Claims
	nc     *nodeClaim
	key    string
	own    *ownCheckpoint
}

// Take claims container of pod namespace/name and a place on its node for a
// checkpoint that takes at most hold, in one write of the node's claim. A
// checkpoint of the container in flight when this one was asked refuses it
// with 409; one answered less than a second ago is waited out. A checkpoint
// that finds its node full waits for a place up to the claims' wait (at most
// limit, its own timeout). It reports false when no place was given in time
// or ctx ended; an error is a status for the client.
func (c *Claims) Take(ctx context.Context, namespace, name, container, node string, limit, hold time.Duration) (*Held, bool, error) {
	if c == nil {
		return nil, true, nil
	}
	nc := c.use(node)
	want := ClaimedCheckpoint{Pod: namespace + "/" + name, Container: container, Holder: c.holder}
	asked := c.clock.Now()
	placeBy := asked.Add(min(c.wait, limit))
	for lost := 0; ; {
		c.mu.Lock()
		changed := nc.changed
		c.mu.Unlock()
		held, busy, until, err := c.tryTake(ctx, nc, want, asked, hold)
		now := c.clock.Now()
		switch {
		case apierrors.IsConflict(err): // a race the write lost
			if lost++; lost < claimAttempts {
				continue
			}
			c.unuse(nc)
			return nil, false, apierrors.NewTooManyRequests(fmt.Sprintf("the checkpoints of node %s keep being claimed through other apiservers at the same moment: retry later", node), retryAfterSeconds)
		case err != nil:
			c.unuse(nc)
			return nil, false, c.writeError(ctx, err)
		case held != nil:
			return held, true, nil
		case busy != nil:
			c.unuse(nc)
			return nil, false, apierrors.NewConflict(core.Resource("pods/checkpoint"), name,
				fmt.Errorf("a checkpoint of container %s is already in progress (served by %s since %s): its archive would be overwritten",
					container, busy.Holder, busy.Since.UTC().Format(time.RFC3339)))
		case until.IsZero():
			// The node is full.
			if !now.Before(placeBy) {
				c.unuse(nc)
				return nil, false, nil
			}
			until = placeBy
		}
		timer := c.clock.NewTimer(min(until.Sub(now), claimPoll))
		polled := false
		select {
		case <-timer.C():
			polled = true
		case <-changed:
		case <-ctx.Done():
		}
		timer.Stop()
		if ctx.Err() != nil {
			c.unuse(nc)
			return nil, false, nil
		}
		if polled {
			// The watch showed no change, and may be late: the next look
			// is at the claim as stored.
			nc.write.Lock()
			c.reread(ctx, nc)
			nc.write.Unlock()
		}
	}
}

// tryTake lists the checkpoint in the node's claim, or tells why not: busy
// is a checkpoint of the container that refuses this one; until is when to
// look again for the container's sake, zero when the node is full.
func (c *Claims) tryTake(ctx context.Context, nc *nodeClaim, want ClaimedCheckpoint, asked time.Time, hold time.Duration) (held *Held, busy *ClaimedCheckpoint, until time.Time, err error) {
	key := want.key()
	nc.write.Lock()
	defer nc.write.Unlock()
	now := c.clock.Now()
	lease := c.view(nc)
	kept, inFlight, same := c.look(nc, lease, key, now)
	if same != nil {
		c.mu.Lock()
		own := nc.own[key]
		ended, endedAt := c.ended(nc, same, now)
		c.mu.Unlock()
		switch {
		case c.mine(same, own) && !ended:
			return nil, same, time.Time{}, nil
		case ended && (c.mine(same, own) || !same.Ended.After(asked.Add(claimClockSkew))):
			// Answered before this one was asked: a second after.
			return nil, nil, endedAt.Add(archiveSpacing), nil
		case ended:
			return nil, same, time.Time{}, nil
		case now.Before(asked.Add(claimGrace)):
			// In flight through another replica, which answers before it
			// writes the end.
			return nil, nil, asked.Add(claimGrace), nil
		default:
			return nil, same, time.Time{}, nil
		}
	}
	if c.max > 0 && inFlight >= c.max {
		return nil, nil, time.Time{}, nil
	}
	// As the claim stores it, to tell it apart later.
	since := metav1.NewMicroTime(now.Truncate(time.Microsecond))
	want.Since, want.Until = since, metav1.NewMicroTime(now.Add(hold))
	kept = append(kept, want)
	if _, err := c.write(ctx, nc, lease, kept, now); err != nil {
		return nil, nil, time.Time{}, err
	}
	own := &ownCheckpoint{since: since}
	c.mu.Lock()
	nc.own[key] = own
	c.mu.Unlock()
	return &Held{claims: c, nc: nc, key: key, own: own}, nil, time.Time{}, nil
}

// write writes the node's claim with list, this replica's answered
// checkpoints marked ended, or deletes it when list is empty. A write that
// lost a race reads the claim again for the next try.
func (c *Claims) write(ctx context.Context, nc *nodeClaim, lease *coordinationv1.Lease, list []ClaimedCheckpoint, now time.Time) (*coordinationv1.Lease, error) {
	var (
		written *coordinationv1.Lease
		err     error
	)
	switch {
	case len(list) == 0 && lease == nil:
		return nil, nil
	case len(list) == 0:
		err = c.leases.Delete(ctx, lease.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}})
	default:
		last := now
		c.mu.Lock()
		for i := range list {
			e := &list[i]
			if own := nc.own[e.key()]; c.mine(e, own) && !own.answered.IsZero() && e.Ended == nil {
				e.Ended = ptr.To(metav1.NewMicroTime(own.answered))
			}
			if e.Until.After(last) {
				last = e.Until.Time
			}
		}
		c.mu.Unlock()
		raw, _ := json.Marshal(list)
		renew := metav1.NewMicroTime(now)
		next := &coordinationv1.Lease{}
		if lease != nil {
			next = lease.DeepCopy()
		} else {
			next.ObjectMeta = metav1.ObjectMeta{Name: nc.name, Namespace: ClaimNamespace,
				Labels: map[string]string{LabelClaim: ClaimNode, LabelNode: digest(nc.node, 16)}, Annotations: map[string]string{AnnotationNode: nc.node}}
			next.Spec.AcquireTime = &renew
		}
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[AnnotationCheckpoints] = string(raw)
		next.Spec.HolderIdentity = ptr.To(c.holder)
		next.Spec.RenewTime = &renew
		next.Spec.LeaseDurationSeconds = ptr.To(seconds(last.Sub(now)))
		if lease == nil {
			written, err = c.leases.Create(ctx, next, metav1.CreateOptions{})
		} else {
			written, err = c.leases.Update(withKnown(ctx, lease), next, metav1.UpdateOptions{})
		}
	}
	if lease == nil && apierrors.IsAlreadyExists(err) || lease != nil && lostRace(err) {
		c.reread(ctx, nc)
		return nil, apierrors.NewConflict(coordinationv1.Resource("leases"), nc.name, err)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if written == nil {
		nc.latest, nc.gone = nil, lease.ResourceVersion
	} else {
		nc.latest, nc.gone = written, ""
	}
	nc.wake()
	return written, nil
}

// reread reads the node's claim as stored: after a write lost a race, or
// when a wait saw no change. nc.write must be held.
func (c *Claims) reread(ctx context.Context, nc *nodeClaim) {
	current, err := c.leases.Get(ctx, nc.name, metav1.GetOptions{})
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		nc.latest, nc.gone = current, ""
	case apierrors.IsNotFound(err):
		nc.latest = nil
		if obj, ok, _ := c.informer.GetStore().GetByKey(ClaimNamespace + "/" + nc.name); ok {
			nc.gone = obj.(*coordinationv1.Lease).ResourceVersion
		}
	}
}

// Done gives back what a checkpoint held, apart from the request so that
// the client has its answer first. A checkpoint that asked the kubelet
// (asked) has its end written at once and is taken out of its node's claim a
// second after now, so that the next archive of the container is named a
// second later. One that never reached the kubelet is taken out at once.
func (h *Held) Done(asked bool) {
	if h == nil {
		return
	}
	c, nc := h.claims, h.nc
	now := c.clock.Now()
	c.mu.Lock()
	h.own.answered = now
	if !asked {
		h.own.answered = now.Add(-archiveSpacing)
	}
	nc.wake() // a checkpoint of this replica waiting for the node takes the place
	c.mu.Unlock()
	c.background.Add(1)
	go func() {
		if asked {
			h.writeEnd()
			if left := archiveSpacing - c.clock.Since(now); left > 0 {
				// The fake clock runs it while it holds its lock: apart.
				c.clock.AfterFunc(left, func() { go h.giveBack() })
				return
			}
		}
		h.giveBack()
	}()
}

// writeEnd writes the checkpoint's end, unless another write did it
// already: a checkpoint waiting for the node on any replica takes its place,
// and one of the container through another replica tells by it that this one
// was answered before it was asked.
func (h *Held) writeEnd() {
	c, nc := h.claims, h.nc
	c.rewrite(nc, "Cannot write the end of a checkpoint; it is taken out of its claim a second after", func(lease *coordinationv1.Lease, now time.Time) ([]ClaimedCheckpoint, bool) {
		kept, _, same := c.look(nc, lease, h.key, now)
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.mine(same, h.own) || same.Ended != nil {
			return nil, false
		}
		return append(kept, *same), true
	})
}

// giveBack takes the checkpoint out of its node's claim, or deletes the claim
// when nothing else is listed. It is always taken out by its own replica: a
// checkpoint left for another's write could wait for one that never comes,
// such as a dead replica's, listed until it expires.
func (h *Held) giveBack() {
	c, nc := h.claims, h.nc
	defer c.background.Done()
	defer c.unuse(nc)
	defer func() {
		c.mu.Lock()
		if nc.own[h.key] == h.own {
			delete(nc.own, h.key)
			// Still listed when the write failed: its second counts from
			// the answer.
			nc.seen[checkpointID(h.key, h.own.since)] = h.own.answered
		}
		c.mu.Unlock()
	}()
	c.rewrite(nc, "Cannot give a checkpoint claim back; it expires by itself", func(lease *coordinationv1.Lease, now time.Time) ([]ClaimedCheckpoint, bool) {
		var list []ClaimedCheckpoint
		if lease != nil {
			list, _ = ClaimedCheckpoints(lease)
		}
		listed := false
		for i := range list {
			listed = listed || c.mine(&list[i], h.own)
		}
		kept, _, _ := c.look(nc, lease, "", now)
		var rest []ClaimedCheckpoint
		for _, e := range kept {
			if !c.mine(&e, h.own) {
				rest = append(rest, e)
			}
		}
		return rest, listed
	})
}

// rewrite writes the node's claim as change makes it from the claim as this
// replica sees it (nothing when change reports false), and again from the
// claim read anew when the write lost a race; failed is logged when it
// cannot.
func (c *Claims) rewrite(nc *nodeClaim, failed string, change func(lease *coordinationv1.Lease, now time.Time) ([]ClaimedCheckpoint, bool)) {
	ctx, cancel := context.WithTimeout(context.Background(), claimWriteTimeout)
	defer cancel()
	for range claimAttempts {
		nc.write.Lock()
		now := c.clock.Now()
		lease := c.view(nc)
		list, ok := change(lease, now)
		var err error
		if ok {
			_, err = c.write(ctx, nc, lease, list, now)
		}
		nc.write.Unlock()
		if err == nil || !lostRace(err) {
			if err != nil {
				klog.ErrorS(err, failed, "lease", klog.KRef(ClaimNamespace, nc.name))
			}
			return
		}
	}
}

// writeError is the error of a claim that could not be written or read.
func (c *Claims) writeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return apierrors.NewTimeoutError("the request ended while claiming the checkpoint", 0)
	}
	return apierrors.NewInternalError(fmt.Errorf("cannot write the checkpoint's claim (a Lease in namespace %s): %w", ClaimNamespace, err))
}

// lostRace reports a write of a claim that another writer got to first: it
// changed the Lease (409) or deleted it (404). Whoever loses looks again.
func lostRace(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsNotFound(err)
}

// expired reports whether a claim's holder let it lapse by now.
func expired(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return !now.Before(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// seconds rounds d up to whole seconds, at least one.
func seconds(d time.Duration) int32 {
	return int32(max(1, (d+time.Second-1)/time.Second))
}

// digest names s in a Lease name or a label value.
func digest(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}
