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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// leaseStore is a fake clientset whose Leases are written with optimistic
// concurrency, as the apiserver writes them: a create of an existing name,
// an update of a stale resourceVersion and a delete whose preconditions fail
// are refused. It counts the writes.
type leaseStore struct {
	*fake.Clientset
	mu     sync.Mutex
	rv     int
	writes map[string]int
	// beforeCreate, when set, runs (once) as the next create begins.
	beforeCreate func()
	// gates hold the writes of a verb until closed; started counts the
	// writes that began, held or not.
	gates   map[string]chan struct{}
	started map[string]int
}

// gate holds every write of verb from now until the returned func is called.
func (s *leaseStore) gate(verb string) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := make(chan struct{})
	s.gates[verb] = g
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.gates, verb)
		close(g)
	}
}

// pass counts a write of verb that begins and holds it while its gate is
// shut. (The fake clientset runs one action at a time, so a write is held
// before it reaches it.)
func (s *leaseStore) pass(verb string) {
	s.mu.Lock()
	s.started[verb]++
	gate := s.gates[verb]
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
}

func (s *leaseStore) CoordinationV1() coordinationv1client.CoordinationV1Interface {
	return gatedCoordination{s.Clientset.CoordinationV1(), s}
}

type gatedCoordination struct {
	coordinationv1client.CoordinationV1Interface
	s *leaseStore
}

func (g gatedCoordination) Leases(namespace string) coordinationv1client.LeaseInterface {
	return gatedLeases{g.CoordinationV1Interface.Leases(namespace), g.s}
}

type gatedLeases struct {
	coordinationv1client.LeaseInterface
	s *leaseStore
}

func (l gatedLeases) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	l.s.pass("create")
	return l.LeaseInterface.Create(ctx, lease, opts)
}

func (l gatedLeases) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	l.s.pass("update")
	return l.LeaseInterface.Update(ctx, lease, opts)
}

func (l gatedLeases) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	l.s.pass("delete")
	return l.LeaseInterface.Delete(ctx, name, opts)
}

// waitStarted waits until n writes of verb began.
func (s *leaseStore) waitStarted(t *testing.T, verb string, n int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.started[verb] >= n, nil
	})
	if err != nil {
		t.Fatalf("%d %ss began, want %d", s.started[verb], verb, n)
	}
}

var leasesResource = coordinationv1.SchemeGroupVersion.WithResource("leases")

func newLeaseStore() *leaseStore {
	s := &leaseStore{Clientset: fake.NewClientset(), writes: map[string]int{}, gates: map[string]chan struct{}{}, started: map[string]int{}}
	tracker := s.Tracker()
	s.PrependReactor("*", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		s.mu.Lock()
		hook := s.beforeCreate
		if action.GetVerb() == "create" {
			s.beforeCreate = nil
		}
		s.mu.Unlock()
		if hook != nil && action.GetVerb() == "create" {
			hook()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		ns := action.GetNamespace()
		current := func(name string) (*coordinationv1.Lease, error) {
			obj, err := tracker.Get(leasesResource, ns, name)
			if err != nil {
				return nil, err
			}
			return obj.(*coordinationv1.Lease), nil
		}
		switch action.GetVerb() {
		case "create":
			s.writes["create"]++
			l := action.(clienttesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
			if _, err := current(l.Name); err == nil {
				return true, nil, apierrors.NewAlreadyExists(leasesResource.GroupResource(), l.Name)
			}
			s.rv++
			l.ResourceVersion, l.UID = strconv.Itoa(s.rv), types.UID("uid-"+strconv.Itoa(s.rv))
			return true, l, tracker.Create(leasesResource, l, ns)
		case "update":
			s.writes["update"]++
			l := action.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
			old, err := current(l.Name)
			if err != nil {
				return true, nil, err
			}
			if old.ResourceVersion != l.ResourceVersion {
				return true, nil, apierrors.NewConflict(leasesResource.GroupResource(), l.Name, nil)
			}
			s.rv++
			l.ResourceVersion = strconv.Itoa(s.rv)
			return true, l, tracker.Update(leasesResource, l, ns)
		case "delete":
			a := action.(clienttesting.DeleteAction)
			s.writes["delete"]++
			old, err := current(a.GetName())
			if err != nil {
				return true, nil, err
			}
			if p := a.GetDeleteOptions().Preconditions; p != nil &&
				(p.UID != nil && *p.UID != old.UID || p.ResourceVersion != nil && *p.ResourceVersion != old.ResourceVersion) {
				return true, nil, apierrors.NewConflict(leasesResource.GroupResource(), old.Name, nil)
			}
			return true, nil, tracker.Delete(leasesResource, ns, a.GetName())
		}
		return false, nil, nil
	})
	return s
}

func (s *leaseStore) leases(t *testing.T) []coordinationv1.Lease {
	t.Helper()
	list, err := s.CoordinationV1().Leases(ClaimNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func (s *leaseStore) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes["create"] + s.writes["update"] + s.writes["delete"]
}

func newFakeClock() *clocktesting.FakeClock {
	return clocktesting.NewFakeClock(time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC))
}

// TestClaimContainerAcrossReplicas: two replicas on one store keep one
// checkpoint of a container in flight, space two of them by a second, and
// leave no claim behind.
func TestClaimContainerAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	a := NewClaims(store, "apiserver-a", 0, 0, fakeClock)
	b := NewClaims(store, "apiserver-b", 0, 0, fakeClock)

	first, err := a.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Through another replica: refused once it had a second to see the end
	// (its replica answers before writing it).
	refused := make(chan error)
	go func() {
		_, err := b.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
		refused <- err
	}()
	waitForTimers(t, fakeClock, 1)
	select {
	case err := <-refused:
		t.Fatalf("refused without giving the claim's end a second to land: %v", err)
	default:
	}
	fakeClock.Step(time.Second)
	err = <-refused
	want := `Operation cannot be fulfilled on pods/checkpoint "web": a checkpoint of container app is already in progress (served by apiserver-a since 2026-11-30T03:00:00Z): its archive would be overwritten`
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("the same container through another replica: got %v\nwant 409 %s", err, want)
	}
	// Through its own replica: refused at once.
	if _, err := a.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute); !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("the same container through its replica: got %v\nwant 409 %s", err, want)
	}
	if other, err := b.ClaimContainer(ctx, "default", "web", "sidecar", "node1", time.Minute); err != nil {
		t.Fatalf("another container waits for app: %v", err)
	} else {
		other.End()
	}

	// Ended: the next one, through the other replica, waits a second.
	first.End()
	a.background.Wait()
	b.background.Wait()
	next := make(chan error)
	go func() {
		claim, err := b.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
		if err == nil {
			claim.End()
		}
		next <- err
	}()
	waitForTimers(t, fakeClock, 3) // the spacing here, and two ended claims' give-back
	fakeClock.Step(time.Second - time.Millisecond)
	select {
	case err := <-next:
		t.Fatalf("the next checkpoint started within a second of the previous: %v", err)
	default:
	}
	fakeClock.Step(time.Millisecond)
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	waitForTimers(t, fakeClock, 1)
	fakeClock.Step(time.Second)
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left after the checkpoints ended: %v", names(left))
	}
}

// TestClaimContainerWaitEndsWhenGivenBack: a checkpoint that finds the
// previous one's claim ended waits only until its holder gives it back (a
// second after the end, on the holder's clock), which another replica learns
// from its watch.
func TestClaimContainerWaitEndsWhenGivenBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, fakeClock, a, b, first := twoReplicas(t, ctx)
	first.End()
	a.background.Wait()
	fakeClock.Step(500 * time.Millisecond)
	next := make(chan error)
	go func() {
		claim, err := b.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
		if err == nil {
			claim.Release()
		}
		next <- err
	}()
	waitForTimers(t, fakeClock, 2) // a's give-back, b's second
	fakeClock.Step(500 * time.Millisecond)
	select {
	case err := <-next:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting checkpoint did not start when the ended claim was given back")
	}
}

// TestClaimExpires: a replica that stopped in the middle of a checkpoint
// holds its claims until they expire; then another replica takes them, and
// garbage collection deletes the ones nobody took.
func TestClaimExpires(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock := newLeaseStore(), newFakeClock()
	dead := NewClaims(store, "apiserver-dead", 1, 0, fakeClock)
	alive := NewClaims(store, "apiserver-alive", 1, 0, fakeClock)
	hold := 65 * time.Second
	if _, err := dead.ClaimContainer(ctx, "default", "web", "app", "node1", hold); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, err := dead.ClaimNode(ctx, "node1", time.Minute, hold); !ok || err != nil {
		t.Fatalf("first place: %v %v", ok, err)
	}
	if _, ok, _, err := dead.ClaimNode(ctx, "node2", time.Minute, hold); !ok || err != nil {
		t.Fatalf("place on node2: %v %v", ok, err)
	}
	// The replica that takes over reads the places from its watch.
	alive.start(ctx.Done())
	err := wait.PollUntilContextTimeout(ctx, time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return alive.informer.HasSynced() && len(alive.informer.GetStore().List()) == 3, nil
	})
	if err != nil {
		t.Fatal("the watch of the claims never showed the dead replica's three claims")
	}
	// Before it expired: refused once its end had a second to land.
	fakeClock.Step(hold - 1100*time.Millisecond)
	refused := make(chan error)
	go func() {
		_, err := alive.ClaimContainer(ctx, "default", "web", "app", "node1", hold)
		refused <- err
	}()
	waitForTimers(t, fakeClock, 1)
	fakeClock.Step(time.Second)
	if err := <-refused; !apierrors.IsConflict(err) {
		t.Fatalf("before the claim expired: got %v, want 409", err)
	}
	fakeClock.Step(100*time.Millisecond - time.Millisecond)
	if _, ok, _, _ := alive.ClaimNode(ctx, "node1", time.Minute, hold); ok {
		t.Fatal("before the claim expired: got the node's only place")
	}
	fakeClock.Step(time.Millisecond)
	claim, err := alive.ClaimContainer(ctx, "default", "web", "app", "node1", hold)
	if err != nil {
		t.Fatalf("after the claim expired: %v", err)
	}
	if got := ptr.Deref(claim.lease.Spec.HolderIdentity, ""); got != "apiserver-alive" || ptr.Deref(claim.lease.Spec.LeaseTransitions, 0) != 1 {
		t.Errorf("the claim taken over: holder %q, transitions %d", got, ptr.Deref(claim.lease.Spec.LeaseTransitions, 0))
	}
	place, ok, _, err := alive.ClaimNode(ctx, "node1", time.Minute, hold)
	if !ok || err != nil {
		t.Fatalf("after the place expired: %v %v", ok, err)
	}
	place.Release()
	claim.End()
	alive.background.Wait()
	fakeClock.Step(time.Second)

	// Left: the dead replica's place on node2, expired; collect deletes it.
	alive.collect(ctx)
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left after garbage collection: %v", names(left))
	}
}

// TestClaimNodeAcrossReplicas: the bound per node counts the places taken
// through every replica, and a place given back by one replica is taken at
// once by a checkpoint waiting on another (through the watch of claims).
func TestClaimNodeAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock := newLeaseStore(), newFakeClock()
	a := NewClaims(store, "apiserver-a", 2, time.Minute, fakeClock)
	b := NewClaims(store, "apiserver-b", 2, time.Minute, fakeClock)
	watch(t, ctx, b)
	one, ok, _, err := a.ClaimNode(ctx, "node1", time.Hour, time.Minute)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, _, err := b.ClaimNode(ctx, "node1", time.Hour, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	got := make(chan bool)
	go func() {
		_, ok, _, _ := b.ClaimNode(ctx, "node1", time.Hour, time.Minute)
		got <- ok
	}()
	waitForTimers(t, fakeClock, 2) // the wait and the poll
	if _, ok, _, _ := b.ClaimNode(ctx, "node2", 0, time.Minute); !ok {
		t.Fatal("node2 is bounded by node1")
	}
	one.Release() // by replica a; replica b learns it from the watch
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the waiting checkpoint got no place")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting checkpoint did not take the place replica a gave back")
	}
	if n := len(store.leases(t)); n != 3 {
		t.Errorf("%d claims, want 3 places (two on node1, one on node2)", n)
	}
}

// TestClaimNodeHandsOver: a place given back goes straight to the checkpoint
// of the replica that has waited longest, and only to it, with one write (it
// renews the place and the container's claim at once); once the replica has
// held the place for handOffFor it is deleted instead, for every replica's
// checkpoints to race for, and the longest waiting is woken to take it.
func TestClaimNodeHandsOver(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 1, time.Minute, fakeClock)
	place, ok, _, err := c.ClaimNode(ctx, "node1", time.Hour, time.Hour)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	const waiters = 4
	got := make([]chan *Held, waiters)
	for i := range got {
		got[i] = make(chan *Held, 1)
		go func() {
			held, _, err := c.Take(ctx, "default", "web-"+strconv.Itoa(i), "app", "node1", time.Hour, 2*time.Hour)
			if err != nil {
				t.Error(err)
			}
			got[i] <- held
		}()
		waitForTimers(t, fakeClock, 2*(i+1)) // in line, in this order
	}
	for i := range got {
		if i == waiters-1 {
			// The replica has held the place long enough: it goes to all.
			fakeClock.Step(handOffFor)
			waitForTimers(t, fakeClock, 2*(waiters-i)) // each waiter looked again
		}
		before := store.writeCount()
		deletes := store.writes["delete"]
		fakeClock.Step(time.Millisecond)
		place.Release()
		var held *Held
		select {
		case held = <-got[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("waiter %d, the longest waiting, did not get the place given back", i)
		}
		place = held.place
		time.Sleep(100 * time.Millisecond) // room for a wrongly woken waiter to write
		n := store.writeCount() - before
		if i < waiters-1 {
			// The update of the place and the update of the container's claim.
			if n != 2 || store.writes["delete"] != deletes {
				t.Errorf("place handed over to waiter %d: %d writes (%d deletes), want 2 updates", i, n, store.writes["delete"]-deletes)
			}
		} else if n != 3 || store.writes["delete"] != deletes+1 {
			// The delete, a create and the update of the container's claim.
			t.Errorf("place held for %s given back: %d writes (%d deletes), want 3 with one delete", handOffFor, n, store.writes["delete"]-deletes)
		}
		if place == nil || place.lease.Spec.RenewTime.Time != fakeClock.Now() || *place.lease.Spec.LeaseDurationSeconds != 7200 {
			t.Fatalf("waiter %d: got %+v, want the place renewed for 2h from now", i, place)
		}
		renewed, err := store.CoordinationV1().Leases(ClaimNamespace).Get(ctx, held.claim.lease.Name, metav1.GetOptions{})
		if err != nil || renewed.Spec.RenewTime.Time != fakeClock.Now() || *renewed.Spec.LeaseDurationSeconds != 7200 {
			t.Fatalf("waiter %d: the container's claim is %+v (%v), want it renewed for 2h from now", i, renewed, err)
		}
	}
	if left := store.leases(t); len(left) != waiters+1 {
		t.Errorf("claims: %v, want one place and %d containers'", names(left), waiters)
	}
}

// TestClaimNodeHandedOverWhileLeaving: a place handed over to a checkpoint
// whose request ends meanwhile goes on to the next in line, or is deleted.
func TestClaimNodeHandedOverWhileLeaving(t *testing.T) {
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 1, time.Minute, fakeClock)
	place, ok, _, err := c.ClaimNode(context.Background(), "node1", time.Hour, time.Hour)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	leaving, cancel := context.WithCancel(context.Background())
	first := make(chan bool, 1)
	go func() {
		_, ok, _, _ := c.ClaimNode(leaving, "node1", time.Hour, time.Hour)
		first <- ok
	}()
	waitForTimers(t, fakeClock, 2)
	second := make(chan *Claim, 1)
	go func() {
		place, _, _, _ := c.ClaimNode(context.Background(), "node1", time.Hour, time.Hour)
		second <- place
	}()
	waitForTimers(t, fakeClock, 4)
	// Handed over as its request ends, before it saw the hand-over: it
	// leaves, and the place goes on to the next in line.
	c.mu.Lock()
	handOver := c.queues[digest("node1", 16)][0]
	handOver.handed = place.lease
	cancel()
	c.mu.Unlock()
	if <-first {
		t.Fatal("a request that ended took a place")
	}
	select {
	case got := <-second:
		if got == nil || got.lease.Name != place.lease.Name {
			t.Fatalf("the second waiter got %+v, want the place the first left", got)
		}
		got.Release()
	case <-time.After(10 * time.Second):
		t.Fatal("the place handed over to a waiter that left was lost")
	}
	if handOver.handed != nil {
		t.Error("the waiter that left still holds the place handed over")
	}
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left: %v", names(left))
	}
}

// TestClaimNodeWakeNotLost: a place given back while the woken waiter takes
// another is not lost: the wake goes on to the next waiter.
func TestClaimNodeWakeNotLost(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 2, time.Minute, fakeClock)
	var held []*Claim
	for range 2 {
		place, ok, _, err := c.ClaimNode(ctx, "node1", time.Hour, time.Hour)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		held = append(held, place)
	}
	got := make([]chan bool, 2)
	for i := range got {
		got[i] = make(chan bool, 1)
		go func() {
			_, ok, _, _ := c.ClaimNode(ctx, "node1", time.Hour, time.Hour)
			got[i] <- ok
		}()
		waitForTimers(t, fakeClock, 2*(i+1))
	}
	// The places were held long enough to be given back to all, not
	// handed over.
	fakeClock.Step(handOffFor)
	waitForTimers(t, fakeClock, 4)
	// The first waiter, woken by the first place, is taking it when the
	// second place is given back.
	// (Given back as Release does, but not through the fake clientset, which
	// a reactor must not call.)
	store.mu.Lock()
	store.beforeCreate = func() {
		if err := store.Tracker().Delete(leasesResource, ClaimNamespace, held[1].lease.Name); err != nil {
			t.Error(err)
		}
		c.given(held[1].lease)
	}
	store.mu.Unlock()
	held[0].Release()
	for i := range got {
		select {
		case ok := <-got[i]:
			if !ok {
				t.Fatalf("waiter %d got no place", i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("waiter %d was not woken for the place given back", i)
		}
	}
}

// TestClaimNodeWait: a full node's waiter gives up after the claims' wait or
// the checkpoint's timeout, whichever is shorter, or when its request ends.
func TestClaimNodeWait(t *testing.T) {
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 1, time.Minute, fakeClock)
	ctx := context.Background()
	if _, ok, _, _ := c.ClaimNode(ctx, "a", time.Hour, time.Hour); !ok {
		t.Fatal("the first place")
	}
	for _, tc := range []struct {
		name  string
		limit time.Duration
	}{{"the claims' wait", time.Hour}, {"the checkpoint's timeout", 5 * time.Second}} {
		got := make(chan bool)
		go func() {
			_, ok, _, _ := c.ClaimNode(ctx, "a", tc.limit, time.Hour)
			got <- ok
		}()
		waitForTimers(t, fakeClock, 2)
		fakeClock.Step(min(time.Minute, tc.limit) - time.Millisecond)
		waitForTimers(t, fakeClock, 2) // it looked again, and waits on
		fakeClock.Step(time.Millisecond)
		if <-got {
			t.Fatalf("%s: got a place on a full node", tc.name)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	got := make(chan bool)
	go func() {
		_, ok, _, _ := c.ClaimNode(cancelled, "a", time.Hour, time.Hour)
		got <- ok
	}()
	waitForTimers(t, fakeClock, 2)
	cancel()
	if <-got {
		t.Fatal("a request that ended got a place")
	}
	unbounded := NewClaims(store, "apiserver-a", 0, 0, fakeClock)
	for range 10 {
		if place, ok, _, err := unbounded.ClaimNode(ctx, "a", 0, time.Hour); !ok || err != nil || place != nil {
			t.Fatal("no bound refused a checkpoint, or wrote a claim")
		}
	}
}

// TestClaimWriteFails: a claim that cannot be written refuses the checkpoint
// with the reason, and nothing is half-done.
func TestClaimWriteFails(t *testing.T) {
	store, fakeClock := newLeaseStore(), newFakeClock()
	store.PrependReactor("create", "leases", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ClaimNamespace)
	})
	c := NewClaims(store, "apiserver-a", 1, 0, fakeClock)
	_, err := c.ClaimContainer(context.Background(), "default", "web", "app", "node1", time.Minute)
	if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != 500 ||
		!strings.Contains(err.Error(), "cannot write the checkpoint's claim (a Lease in namespace kube-system)") {
		t.Fatalf("got %v, want 500 naming the claim", err)
	}
}

// watch starts c's watch of the claims and waits until it has synced.
func watch(t *testing.T, ctx context.Context, c *Claims) {
	t.Helper()
	c.start(ctx.Done())
	err := wait.PollUntilContextTimeout(ctx, time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return c.informer.HasSynced(), nil
	})
	if err != nil {
		t.Fatal("the watch of the claims never synced")
	}
}

// twoReplicas is two replicas on one store, the second watching the claims,
// and a checkpoint of container app of pod default/web that the first has
// claimed.
func twoReplicas(t *testing.T, ctx context.Context) (*leaseStore, *clocktesting.FakeClock, *Claims, *Claims, *Claim) {
	t.Helper()
	store, fakeClock := newLeaseStore(), newFakeClock()
	a := NewClaims(store, "apiserver-a", 0, 0, fakeClock)
	b := NewClaims(store, "apiserver-b", 0, 0, fakeClock)
	watch(t, ctx, b)
	first, err := a.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return store, fakeClock, a, b, first
}

func names(leases []coordinationv1.Lease) []string {
	var n []string
	for _, l := range leases {
		n = append(n, l.Name)
	}
	return n
}

// TestTakeOneRound: a checkpoint writes its container's claim and its place
// on the node at once, one round of writes before the kubelet is asked; one
// of a container in flight is refused with 409 and gives back the place it
// took meanwhile.
func TestTakeOneRound(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 2, time.Minute, fakeClock)
	open := store.gate("create")
	taken := make(chan *Held, 1)
	go func() {
		held, ok, err := c.Take(ctx, "default", "web", "app", "node1", time.Minute, time.Minute)
		if !ok || err != nil {
			t.Errorf("take: %v %v", ok, err)
		}
		taken <- held
	}()
	store.waitStarted(t, "create", 2) // both, while neither is written
	open()
	held := <-taken
	if held == nil || held.claim == nil || held.place == nil {
		t.Fatalf("took %+v, want the container's claim and a place", held)
	}

	_, ok, err := c.Take(ctx, "default", "web", "app", "node1", time.Minute, time.Minute)
	if ok || !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "a checkpoint of container app is already in progress") {
		t.Fatalf("the same container again: got %v %v, want 409", ok, err)
	}
	c.background.Wait()
	if left := names(store.leases(t)); len(left) != 2 {
		t.Errorf("claims: %v, want the first checkpoint's two", left)
	}
	held.Done(true)
	c.background.Wait()
	fakeClock.Step(archiveSpacing)
	if err := wait.PollUntilContextTimeout(ctx, time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(store.leases(t)) == 0, nil
	}); err != nil {
		t.Errorf("claims left a second after the end: %v", names(store.leases(t)))
	}
}

// TestClaimContainerSeesTheEndLand: through another replica, a checkpoint of
// a container whose last checkpoint was answered but whose end is still
// being written waits for the end to land (from its watch) and then the
// second, instead of being refused.
func TestClaimContainerSeesTheEndLand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock, a, b, first := twoReplicas(t, ctx)
	open := store.gate("update")
	first.End() // answered; its end is on its way
	store.waitStarted(t, "update", 1)
	next := make(chan error, 1)
	go func() {
		claim, err := b.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
		if err == nil {
			claim.End()
		}
		next <- err
	}()
	waitForTimers(t, fakeClock, 1) // its second to see the end
	open()
	a.background.Wait()
	waitForTimers(t, fakeClock, 2) // the end seen: the spacing, and a's give-back
	select {
	case err := <-next:
		t.Fatalf("started within a second of the previous checkpoint's end: %v", err)
	default:
	}
	fakeClock.Step(archiveSpacing)
	if err := <-next; err != nil {
		t.Fatalf("after the end landed and a second passed: %v", err)
	}
}

// TestClaimContainerInFlightWhenAsked: through another replica, a checkpoint
// asked while the container's last one was in flight is refused with 409
// even when that one ends within the second it is given, since it ended
// after this one was asked.
func TestClaimContainerInFlightWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, fakeClock, _, b, first := twoReplicas(t, ctx)
	refused := make(chan error, 1)
	go func() {
		_, err := b.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
		refused <- err
	}()
	waitForTimers(t, fakeClock, 1) // its second to see an end
	fakeClock.Step(500 * time.Millisecond)
	first.End()
	select {
	case err := <-refused:
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "a checkpoint of container app is already in progress (served by apiserver-a since 2026-11-30T03:00:00Z)") {
			t.Fatalf("got %v, want 409 naming the checkpoint in flight", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not refused when the checkpoint in flight ended")
	}
}

// TestClaimEndGivenBackASecondAfterTheEnd: a container's claim is given back
// a second after its checkpoint's answer, however long the write of its end
// took, so that the next checkpoint of the container does not wait longer.
func TestClaimEndGivenBackASecondAfterTheEnd(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	c := NewClaims(store, "apiserver-a", 0, 0, fakeClock)
	claim, err := c.ClaimContainer(ctx, "default", "web", "app", "node1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	open := store.gate("update")
	claim.End()
	store.waitStarted(t, "update", 1)
	fakeClock.Step(600 * time.Millisecond) // the write of the end takes long
	open()
	c.background.Wait()
	waitForTimers(t, fakeClock, 1)
	fakeClock.Step(400*time.Millisecond - time.Millisecond)
	if left := store.leases(t); len(left) != 1 {
		t.Fatalf("claims %v before the second after the end, want the ended one", names(left))
	}
	fakeClock.Step(time.Millisecond)
	if err := wait.PollUntilContextTimeout(ctx, time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(store.leases(t)) == 0, nil
	}); err != nil {
		t.Errorf("claims %v a second after the end", names(store.leases(t)))
	}
}
