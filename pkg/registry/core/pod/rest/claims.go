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
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

// The claims of checkpoints are coordination.k8s.io/v1 Leases in kube-system,
// where only cluster administrators and the control plane may write, written
// through the API with optimistic concurrency as leader election and node
// heartbeats are. Every kube-apiserver replica sees the same claims, so the
// guarantees of pods/checkpoint hold across replicas.
const (
	// ClaimNamespace holds every claim.
	ClaimNamespace = metav1.NamespaceSystem
	// LabelClaim marks a claim: ClaimContainer or ClaimNode. List them with
	// kubectl get leases -n kube-system -l checkpoint.kubernetes.io/claim
	LabelClaim = "checkpoint.kubernetes.io/claim"
	// LabelNode is a digest of the claim's node name (a node name may be
	// longer than a label value).
	LabelNode = "checkpoint.kubernetes.io/node-digest"
	// ClaimContainer is the claim of a container's archive name: one
	// checkpoint of it in flight at a time, and a second between two.
	ClaimContainer = "container"
	// ClaimNode is one of the --checkpoint-max-inflight-per-node places of a
	// node.
	ClaimNode = "node"
	// AnnotationPod, AnnotationContainer and AnnotationNode say what a claim
	// is for, in full.
	AnnotationPod       = "checkpoint.kubernetes.io/pod"
	AnnotationContainer = "checkpoint.kubernetes.io/container"
	AnnotationNode      = "checkpoint.kubernetes.io/node"
	// AnnotationEnded is when the checkpoint that holds a container's claim
	// ended. The claim is kept a second more, so that the next checkpoint of
	// the container starts in a later second on the node's clock.
	AnnotationEnded = "checkpoint.kubernetes.io/ended"
)

const (
	// archiveSpacing is the time between the end of one checkpoint of a
	// container and the start of the next: the kubelet names an archive by
	// the second its checkpoint started on the node.
	archiveSpacing = time.Second
	// claimPoll is how often a checkpoint that waits for a place on its node
	// looks again, in case the watch of the claims is late.
	claimPoll = time.Second
	// claimGCPeriod is how often every replica deletes the claims that
	// expired: those of an apiserver that stopped in the middle of a
	// checkpoint. No claim outlives its expiry by more than this.
	claimGCPeriod = 30 * time.Second
	// claimWriteTimeout bounds the writes that give a claim back.
	claimWriteTimeout = 10 * time.Second
	// claimClockSkew is how far the clocks of two replicas may disagree
	// when one tells whether a checkpoint the other served was answered
	// before it was asked for the next: a checkpoint that ended within it
	// is taken as answered (the next waits for the second), not as in
	// flight (409).
	claimClockSkew = 250 * time.Millisecond
	// claimAttempts bounds the rounds of a claim that keeps losing races.
	claimAttempts = 5
	// handOffFor is how long a replica passes a place on a node from one of
	// its checkpoints straight to the next that waits for the node, from
	// when it took the place. Then the place is deleted when it is given
	// back, and the checkpoints waiting on every replica race for it: no
	// replica keeps a node's places while others wait.
	handOffFor = 5 * time.Second
)

// Claims keeps the checkpoints of every kube-apiserver replica apart:
//   - one checkpoint of a container in flight at a time, whichever replica
//     serves it, and the next one at least a second after (the kubelet names
//     an archive by the second, so a second checkpoint within it would
//     overwrite the first);
//   - at most MaxPerNode checkpoints in flight on a node in the whole
//     cluster; one more waits up to Wait for a place. A place given back
//     goes straight to a checkpoint of the same replica that waits for the
//     node (for up to handOffFor), which renews it: one write, where a
//     delete, the watch telling the others and a create would leave the
//     node idle for a while at every turn.
//
// A claim expires after its checkpoint's timeout and the kubelet's grace, so
// that a replica that died in the middle of a checkpoint blocks nobody for
// longer; every replica deletes the claims that expired. Expiry compares the
// claim's renew time with this replica's clock, as upstream's garbage
// collection of apiserver identity leases does; the spacing of two
// checkpoints of a container never compares the clocks of two replicas.
type Claims struct {
	leases   coordinationv1client.LeaseInterface
	informer cache.SharedIndexInformer
	start    func(stop <-chan struct{})
	holder   string
	max      int
	wait     time.Duration
	clock    clock.WithTickerAndDelayedExecution

	// background are the writes that give claims back after the client got
	// its answer; Run waits for them as it ends.
	background sync.WaitGroup

	mu sync.Mutex
	// freed is closed, and forgotten, when a container's claim (by Lease
	// name) may have been given back, here or by another replica; changed
	// (by Lease name) when it changed, ended for one.
	freed, changed map[string]chan struct{}
	// ending are the container claims (by Lease name) whose checkpoint was
	// answered while the write that marks them ended is on its way; closed
	// when it landed or failed.
	ending map[string]chan struct{}
	// queues are the checkpoints of this replica waiting for a place on a
	// node (by digest), first come first; a place given back wakes one.
	queues map[string][]*nodeWaiter
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
		freed:    map[string]chan struct{}{},
		changed:  map[string]chan struct{}{},
		ending:   map[string]chan struct{}{},
		queues:   map[string][]*nodeWaiter{},
	}
	_, _ = c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if l, ok := obj.(*coordinationv1.Lease); ok && l.Labels[LabelClaim] == ClaimContainer {
				c.wakeMap(c.changed, l.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if l, ok := obj.(*coordinationv1.Lease); ok {
				c.given(l)
			}
		},
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

// collect deletes the claims that expired; another replica may be deleting
// them too, and one that was taken meanwhile is left to its new holder.
func (c *Claims) collect(ctx context.Context) {
	now := c.clock.Now()
	for _, obj := range c.informer.GetStore().List() {
		l, ok := obj.(*coordinationv1.Lease)
		if !ok || !expired(l, now) {
			continue
		}
		err := c.leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}})
		switch {
		case err == nil:
			klog.FromContext(ctx).Info("Deleted an expired checkpoint claim", "lease", klog.KObj(l), "holder", ptr.Deref(l.Spec.HolderIdentity, ""))
		case lostRace(err):
		default:
			klog.FromContext(ctx).Error(err, "Cannot delete an expired checkpoint claim", "lease", klog.KObj(l))
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

// Claim is a claim held by this replica.
type Claim struct {
	claims *Claims
	lease  *coordinationv1.Lease
}

// ClaimContainer claims container of pod namespace/name on node for a
// checkpoint that takes at most hold. A checkpoint of the container that
// ended less than a second ago is waited out (on this replica's clock, from
// when its end was seen); one in flight when this one was asked refuses with
// 409. A replica answers its client before it writes the end, so a claim
// another replica holds is given a second to be marked ended, and refuses
// only if it stays held or ended after this checkpoint was asked.
func (c *Claims) ClaimContainer(ctx context.Context, namespace, name, container, node string, hold time.Duration) (*Claim, error) {
	if c == nil {
		return nil, nil
	}
	leaseName := "checkpoint-" + digest(namespace+"/"+name+"/"+container, 40)
	asked := c.clock.Now()
	var inFlight *coordinationv1.Lease // held by another replica when first looked at
	look := false                      // read the claim again without trying to create it
	for range claimAttempts {
		// This replica answered the container's last checkpoint and is
		// writing its end, or giving its claim back: wait for it rather
		// than refuse.
		c.mu.Lock()
		ending := c.ending[leaseName]
		c.mu.Unlock()
		if ending != nil {
			select {
			case <-ending:
			case <-ctx.Done():
				return nil, apierrors.NewTimeoutError("the request ended while waiting to checkpoint", 0)
			}
		}
		if !look {
			lease, err := c.leases.Create(ctx, c.newLease(leaseName, ClaimContainer, node, hold, map[string]string{
				AnnotationPod: namespace + "/" + name, AnnotationContainer: container, AnnotationNode: node,
			}), metav1.CreateOptions{})
			if err == nil {
				return &Claim{claims: c, lease: lease}, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, c.writeError(ctx, err)
			}
		}
		look = false
		deleted, changed := c.channel(c.freed, leaseName), c.channel(c.changed, leaseName)
		held, err := c.leases.Get(ctx, leaseName, metav1.GetOptions{})
		wait, woken := time.Duration(0), changed
		var busy *coordinationv1.Lease // refuses this checkpoint
		switch {
		case apierrors.IsNotFound(err):
			// given back meanwhile
		case err != nil:
			return nil, c.writeError(ctx, err)
		case held.Annotations[AnnotationEnded] != "":
			if inFlight != nil && endedAfter(held, asked.Add(claimClockSkew)) {
				busy = inFlight // it was in flight when this one was asked
				break
			}
			// Its checkpoint ended: wait a second from now, which is after
			// it ended whatever the clocks of the two replicas say, or until
			// its holder gives it back, which it does a second after the
			// end on its own clock.
			wait, woken = archiveSpacing, nil // its end is what was seen
		case expired(held, c.clock.Now()):
		case inFlight == nil && ptr.Deref(held.Spec.HolderIdentity, "") != c.holder:
			inFlight, wait, look = held, archiveSpacing, true
		default:
			busy = held
		}
		if busy != nil {
			c.forget(c.freed, leaseName, deleted)
			c.forget(c.changed, leaseName, changed)
			return nil, apierrors.NewConflict(core.Resource("pods/checkpoint"), name,
				fmt.Errorf("a checkpoint of container %s is already in progress (served by %s since %s): its archive would be overwritten",
					container, ptr.Deref(busy.Spec.HolderIdentity, "an unknown apiserver"), busy.Spec.AcquireTime.UTC().Format(time.RFC3339)))
		}
		if wait > 0 {
			timer := c.clock.NewTimer(wait)
			select {
			case <-timer.C():
			case <-deleted:
			case <-woken:
			case <-ctx.Done():
			}
			timer.Stop()
		}
		c.forget(c.freed, leaseName, deleted)
		c.forget(c.changed, leaseName, changed)
		if ctx.Err() != nil {
			return nil, apierrors.NewTimeoutError("the request ended while waiting to checkpoint", 0)
		}
		if err != nil || look {
			continue // given back, or to be looked at again
		}
		if lease, err := c.takeOver(ctx, held, hold); err == nil {
			return &Claim{claims: c, lease: lease}, nil
		} else if !lostRace(err) {
			return nil, c.writeError(ctx, err)
		}
		// Another checkpoint took it, or it was given back: look again.
	}
	return nil, apierrors.NewConflict(core.Resource("pods/checkpoint"), name,
		fmt.Errorf("checkpoints of container %s keep starting on other apiservers: its archive would be overwritten", container))
}

// endedAfter reports whether the checkpoint that holds an ended claim ended
// after t, on the clock of the replica that served it.
func endedAfter(l *coordinationv1.Lease, t time.Time) bool {
	ended, err := time.Parse(time.RFC3339Nano, l.Annotations[AnnotationEnded])
	return err == nil && ended.After(t)
}

// Renew restarts the claim's expiry: its checkpoint waited for a place on
// the node and now starts.
func (cl *Claim) Renew(ctx context.Context, hold time.Duration) error {
	if cl == nil {
		return nil
	}
	renewed, err := cl.claims.renew(ctx, cl.lease, hold)
	if err != nil {
		return cl.claims.writeError(ctx, err)
	}
	cl.lease = renewed
	return nil
}

// renew makes lease last hold from now.
func (c *Claims) renew(ctx context.Context, lease *coordinationv1.Lease, hold time.Duration) (*coordinationv1.Lease, error) {
	lease = lease.DeepCopy()
	lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(c.clock.Now()))
	lease.Spec.LeaseDurationSeconds = ptr.To(seconds(hold))
	return c.leases.Update(ctx, lease, metav1.UpdateOptions{})
}

// End gives the container's claim back a second after its checkpoint ended:
// until then another checkpoint of the container, through any replica,
// waits. Its writes go on after it returns, so that the client has its
// answer first; a checkpoint of the container through this replica waits
// until the claim is marked ended.
func (cl *Claim) End() {
	if cl == nil {
		return
	}
	c := cl.claims
	now := c.clock.Now() // before the client has its answer
	c.giveBack(cl.lease.Name, func() {
		ctx, cancel := context.WithTimeout(context.Background(), claimWriteTimeout)
		lease := cl.lease.DeepCopy()
		lease.Annotations[AnnotationEnded] = now.UTC().Format(time.RFC3339Nano)
		lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(now))
		lease.Spec.LeaseDurationSeconds = ptr.To(seconds(archiveSpacing))
		ended, err := c.leases.Update(ctx, lease, metav1.UpdateOptions{})
		if err != nil {
			cancel()
			if !lostRace(err) {
				klog.FromContext(ctx).Error(err, "Cannot mark a checkpoint claim ended; it expires by itself", "lease", klog.KObj(cl.lease))
			}
			return
		}
		// A second after the end, however long its write took: the
		// checkpoint started on the node before it ended.
		c.clock.AfterFunc(max(0, archiveSpacing-c.clock.Since(now)), func() {
			defer cancel()
			c.release(ctx, ended)
		})
	})
}

// giveBack runs write, which ends or gives back the container's claim
// leaseName, apart from the request; until it is done, a checkpoint of the
// container through this replica waits for it rather than find the claim
// held.
func (c *Claims) giveBack(leaseName string, write func()) {
	ending := make(chan struct{})
	c.mu.Lock()
	c.ending[leaseName] = ending
	c.mu.Unlock()
	c.goBackground(func() {
		defer func() {
			c.mu.Lock()
			if c.ending[leaseName] == ending {
				delete(c.ending, leaseName)
			}
			c.mu.Unlock()
			close(ending)
		}()
		write()
	})
}

// goBackground runs f, a write that gives claims back, apart from the
// request; Run waits for it as it ends.
func (c *Claims) goBackground(f func()) {
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		f()
	}()
}

// Held is what a checkpoint holds: its container's claim and a place on its
// node.
type Held struct {
	claim, place *Claim
}

// Take claims container of pod namespace/name and a place on its node for a
// checkpoint that takes at most hold, both in one round of writes: a
// checkpoint that finds its node busy waits for a place up to the claims'
// wait (at most limit, its own timeout) and renews its container's claim
// when it gets one. It reports false, having given everything back, when no
// place was given in time or ctx ended; an error is a status for the client.
func (c *Claims) Take(ctx context.Context, namespace, name, container, node string, limit, hold time.Duration) (*Held, bool, error) {
	if c == nil {
		return nil, true, nil
	}
	type placed struct {
		place      *Claim
		ok, waited bool
		err        error
	}
	nodeCtx, stop := context.WithCancel(ctx)
	defer stop()
	got := make(chan placed, 1)
	go func() {
		var p placed
		p.place, p.ok, p.waited, p.err = c.ClaimNode(nodeCtx, node, limit, hold)
		got <- p
	}()
	claim, err := c.ClaimContainer(ctx, namespace, name, container, node, hold)
	if err != nil {
		stop() // no place is waited for on its behalf
	}
	p := <-got
	held := &Held{claim: claim, place: p.place}
	switch {
	case err != nil:
	case p.err != nil:
		err = p.err
	case !p.ok:
	case p.waited:
		// The container's claim lasts the checkpoint from now.
		if err = claim.Renew(ctx, hold); err == nil {
			return held, true, nil
		}
	default:
		return held, true, nil
	}
	held.Done(false)
	return nil, false, err
}

// Done gives back what a checkpoint held, apart from the request so that
// the client has its answer first. The container's claim of a checkpoint
// that asked the kubelet (asked) ends, so that the next archive of the
// container is named a second later; one that never reached the kubelet is
// given back at once.
func (h *Held) Done(asked bool) {
	if h == nil {
		return
	}
	if asked {
		h.claim.End()
	} else if h.claim != nil {
		h.claim.claims.giveBack(h.claim.lease.Name, h.claim.Release)
	}
	if h.place != nil {
		h.place.claims.goBackground(h.place.Release)
	}
}

// ClaimNode takes one of the node's places for a checkpoint, waiting for one
// up to the claims' wait (at most limit, the checkpoint's own timeout) or
// until ctx ends; it reports false when it got none, and whether it waited.
// A place taken must be given back with Release.
func (c *Claims) ClaimNode(ctx context.Context, node string, limit, hold time.Duration) (place *Claim, ok, waited bool, err error) {
	if c.Max() == 0 {
		return nil, true, false, nil
	}
	nodeDigest := digest(node, 16)
	wait := min(c.wait, limit)
	var (
		w              *nodeWaiter
		deadline, poll clock.Timer
	)
	if wait > 0 {
		// In line before the first try, so that no place given back
		// meanwhile is missed.
		w = c.queue(nodeDigest)
		defer c.leave(nodeDigest, w)
	}
	defer func() {
		for _, t := range []clock.Timer{deadline, poll} {
			if t != nil {
				t.Stop()
			}
		}
	}()
	for {
		if w != nil {
			// Awake from here on: a place given back while it looks wakes
			// it again at once.
			if handed := c.rearm(w); handed != nil {
				place, err := c.takeHanded(ctx, handed, hold)
				if place != nil || err != nil {
					return place, place != nil, true, err
				}
				// The place was taken from it meanwhile: look again.
			}
		}
		lease, err := c.tryNode(ctx, node, nodeDigest, hold)
		if err != nil {
			return nil, false, deadline != nil, err
		}
		if lease != nil {
			return &Claim{claims: c, lease: lease}, true, deadline != nil, nil
		}
		if w == nil {
			return nil, false, false, nil
		}
		if deadline == nil {
			deadline = c.clock.NewTimer(wait)
		}
		if poll == nil {
			poll = c.clock.NewTimer(claimPoll)
		} else {
			poll.Reset(claimPoll)
		}
		select {
		case <-w.woken:
		case <-poll.C():
		case <-deadline.C():
			return nil, false, true, nil
		case <-ctx.Done():
			return nil, false, true, nil
		}
	}
}

// takeHanded renews a place handed over by a checkpoint of this replica
// that ended. It returns nil and no error when the place was taken from it
// meanwhile (deleted or changed by another writer).
func (c *Claims) takeHanded(ctx context.Context, handed *coordinationv1.Lease, hold time.Duration) (*Claim, error) {
	lease, err := c.renew(ctx, handed, hold)
	switch {
	case err == nil:
		return &Claim{claims: c, lease: lease}, nil
	case lostRace(err):
		return nil, nil
	default:
		// Not written: give it back (to the next in line, or to all).
		(&Claim{claims: c, lease: handed}).Release()
		return nil, c.writeError(ctx, err)
	}
}

// nodeWaiter is a checkpoint of this replica waiting for a place on a node.
type nodeWaiter struct {
	woken chan struct{}
	// signalled: it was woken and has not yet looked again.
	signalled bool
	// handed is a place handed over to it, which it has not yet taken.
	handed *coordinationv1.Lease
}

// wake signals w unless it was signalled and has not yet looked again: its
// token is then pending, or it is about to look. c.mu must be held.
func (w *nodeWaiter) wake() {
	if !w.signalled {
		w.signalled = true
		w.woken <- struct{}{}
	}
}

// queue puts a new waiter at the end of the node's line.
func (c *Claims) queue(nodeDigest string) *nodeWaiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &nodeWaiter{woken: make(chan struct{}, 1)}
	c.queues[nodeDigest] = append(c.queues[nodeDigest], w)
	return w
}

// rearm lets a waiter that is about to look again be woken again, in its
// place in line, and gives it the place handed over to it, if any.
func (c *Claims) rearm(w *nodeWaiter) *coordinationv1.Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-w.woken:
	default:
	}
	w.signalled = false
	handed := w.handed
	w.handed = nil
	return handed
}

// leave takes a waiter out of line. A wake that came after it last looked
// (while it took another place, or as its request or its wait ended) is
// passed on: a place it did not look at may be free; so is a place handed
// over to it that it did not take.
func (c *Claims) leave(nodeDigest string, w *nodeWaiter) {
	c.mu.Lock()
	line := c.queues[nodeDigest]
	if i := slices.Index(line, w); i >= 0 {
		line = slices.Delete(line, i, i+1)
	}
	if len(line) == 0 {
		delete(c.queues, nodeDigest)
	} else {
		c.queues[nodeDigest] = line
	}
	passOn, handed := w.signalled, w.handed
	w.handed = nil
	c.mu.Unlock()
	if handed != nil {
		(&Claim{claims: c, lease: handed}).Release()
	}
	if passOn {
		c.wakeNode(nodeDigest)
	}
}

// handOff hands a place given back to the checkpoint of this replica that
// has waited longest for its node and has none handed over yet, unless the
// replica has held the place for handOffFor. It reports whether it did.
func (c *Claims) handOff(lease *coordinationv1.Lease) bool {
	if lease.Labels[LabelClaim] != ClaimNode || lease.Spec.AcquireTime == nil ||
		c.clock.Since(lease.Spec.AcquireTime.Time) >= handOffFor {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.queues[lease.Labels[LabelNode]] {
		if w.handed == nil {
			w.handed = lease
			w.wake()
			return true
		}
	}
	return false
}

// wakeNode wakes the first waiter for a place on the node that is not awake.
func (c *Claims) wakeNode(nodeDigest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.queues[nodeDigest] {
		if !w.signalled {
			w.wake()
			return
		}
	}
}

// tryNode takes a free or expired place of node, or returns nil.
func (c *Claims) tryNode(ctx context.Context, node, nodeDigest string, hold time.Duration) (*coordinationv1.Lease, error) {
	synced := c.informer.HasSynced()
	for _, i := range rand.Perm(c.max) {
		leaseName := "checkpoint-node-" + nodeDigest + "-" + strconv.Itoa(i)
		var held *coordinationv1.Lease
		if synced {
			// The watch says which places are taken; it may be late, and the
			// writes below tell for sure. Of a burst woken by one place given
			// back, one takes it and the others wait on without reading it.
			if obj, ok, _ := c.informer.GetStore().GetByKey(ClaimNamespace + "/" + leaseName); ok {
				held = obj.(*coordinationv1.Lease)
			}
		}
		if held == nil {
			lease, err := c.leases.Create(ctx, c.newLease(leaseName, ClaimNode, node, hold, map[string]string{AnnotationNode: node}), metav1.CreateOptions{})
			if err == nil {
				return lease, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, c.writeError(ctx, err)
			}
			if synced {
				continue
			}
			if held, err = c.leases.Get(ctx, leaseName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				continue
			} else if err != nil {
				return nil, c.writeError(ctx, err)
			}
		}
		if !expired(held, c.clock.Now()) {
			continue
		}
		lease, err := c.takeOver(ctx, held, hold)
		if err == nil {
			return lease, nil
		}
		if !lostRace(err) {
			return nil, c.writeError(ctx, err)
		}
	}
	return nil, nil
}

// Release gives a claim back at once: a place on a node, or the claim of a
// container whose checkpoint never reached the kubelet.
func (cl *Claim) Release() {
	if cl == nil || cl.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), claimWriteTimeout)
	defer cancel()
	cl.claims.release(ctx, cl.lease)
}

// release hands a place over to a checkpoint of this replica that waits for
// it, or deletes lease unless another replica took it over meanwhile, and
// wakes the checkpoints of this replica that wait for it.
func (c *Claims) release(ctx context.Context, lease *coordinationv1.Lease) {
	if c.handOff(lease) {
		return
	}
	err := c.leases.Delete(ctx, lease.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}})
	if err != nil && !lostRace(err) {
		klog.FromContext(ctx).Error(err, "Cannot give a checkpoint claim back; it expires by itself", "lease", klog.KObj(lease))
	}
	c.given(lease)
}

// given wakes what waits for lease, given back here or by another replica:
// one checkpoint waiting for a place on its node, or every checkpoint waiting
// for its container.
func (c *Claims) given(lease *coordinationv1.Lease) {
	if lease.Labels[LabelClaim] == ClaimNode {
		c.wakeNode(lease.Labels[LabelNode])
		return
	}
	c.wakeMap(c.freed, lease.Name)
}

func (c *Claims) takeOver(ctx context.Context, held *coordinationv1.Lease, hold time.Duration) (*coordinationv1.Lease, error) {
	lease := held.DeepCopy()
	now := metav1.NewMicroTime(c.clock.Now())
	delete(lease.Annotations, AnnotationEnded)
	lease.Spec.HolderIdentity = ptr.To(c.holder)
	lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
	lease.Spec.LeaseDurationSeconds = ptr.To(seconds(hold))
	lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(held.Spec.LeaseTransitions, 0) + 1)
	return c.leases.Update(ctx, lease, metav1.UpdateOptions{})
}

func (c *Claims) newLease(name, kind, node string, hold time.Duration, annotations map[string]string) *coordinationv1.Lease {
	now := metav1.NewMicroTime(c.clock.Now())
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   ClaimNamespace,
			Labels:      map[string]string{LabelClaim: kind, LabelNode: digest(node, 16)},
			Annotations: annotations,
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(c.holder),
			LeaseDurationSeconds: ptr.To(seconds(hold)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
}

// writeError is the error of a claim that could not be written or read.
func (c *Claims) writeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return apierrors.NewTimeoutError("the request ended while claiming the checkpoint", 0)
	}
	return apierrors.NewInternalError(fmt.Errorf("cannot write the checkpoint's claim (a Lease in namespace %s): %w", ClaimNamespace, err))
}

// channel is closed, and forgotten, when what m waits for happens to the
// claim key.
func (c *Claims) channel(m map[string]chan struct{}, key string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := m[key]
	if !ok {
		ch = make(chan struct{})
		m[key] = ch
	}
	return ch
}

func (c *Claims) wakeMap(m map[string]chan struct{}, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := m[key]; ok {
		close(ch)
		delete(m, key)
	}
}

// forget drops a channel nobody may wait on any more, so that the map holds
// only what is waited for (another waiter of the same key then waits out its
// timer instead).
func (c *Claims) forget(m map[string]chan struct{}, key string, ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch != nil && m[key] == ch {
		delete(m, key)
	}
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
