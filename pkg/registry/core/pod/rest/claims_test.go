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
	"fmt"
	"slices"
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
	// Finer than the microseconds a claim stores.
	return clocktesting.NewFakeClock(time.Date(2026, 11, 30, 3, 0, 0, 123, time.UTC))
}

// twoReplicas are replicas a and b of the claims on one store and one clock,
// with no bound per node; ctx ends with the test.
func twoReplicas(t *testing.T) (context.Context, *leaseStore, *clocktesting.FakeClock, *Claims, *Claims) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, fakeClock := newLeaseStore(), newFakeClock()
	return ctx, store, fakeClock, NewClaims(store, "apiserver-a", 0, 0, fakeClock), NewClaims(store, "apiserver-b", 0, 0, fakeClock)
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

// take claims container app (or the one named) of pod default/web on node1
// for a checkpoint that takes at most a minute.
func take(ctx context.Context, c *Claims, pod string) (*Held, bool, error) {
	return c.Take(ctx, "default", pod, "app", "node1", time.Minute, time.Minute)
}

type taken struct {
	held *Held
	ok   bool
	err  error
}

// goTake takes in the background.
func goTake(ctx context.Context, c *Claims, pod string) chan taken {
	got := make(chan taken, 1)
	go func() {
		held, ok, err := take(ctx, c, pod)
		got <- taken{held, ok, err}
	}()
	return got
}

func mustTake(t *testing.T, ctx context.Context, c *Claims, pod string) *Held {
	t.Helper()
	held, ok, err := take(ctx, c, pod)
	if !ok || err != nil {
		t.Fatalf("take %s: %v %v", pod, ok, err)
	}
	return held
}

// listed is what node1's claim lists, pod by pod, "(ended)" after those
// whose end is written.
func listed(t *testing.T, store *leaseStore) []string {
	t.Helper()
	var pods []string
	for _, l := range store.leases(t) {
		list, err := ClaimedCheckpoints(&l)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.Ended != nil {
				e.Pod += " (ended)"
			}
			pods = append(pods, e.Pod)
		}
	}
	return pods
}

func want409(t *testing.T, err error, holder string) {
	t.Helper()
	want := `Operation cannot be fulfilled on pods/checkpoint "web": a checkpoint of container app is already in progress (served by ` + holder + ` since 2026-11-30T03:00:00Z): its archive would be overwritten`
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Fatalf("got %v\nwant 409 %s", err, want)
	}
}

// caughtUp waits until c's watch shows the claims as they are.
func caughtUp(t *testing.T, c *Claims, store *leaseStore) {
	t.Helper()
	eventually(t, "the watch did not catch up", func() bool {
		want := map[string]string{}
		for _, l := range store.leases(t) {
			want[l.Name] = l.ResourceVersion
		}
		got := map[string]string{}
		for _, obj := range c.informer.GetStore().List() {
			l := obj.(*coordinationv1.Lease)
			got[l.Name] = l.ResourceVersion
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatal(what)
	}
}

// afterTheSecond lets the second after the previous checkpoint's answer
// pass, and returns what the next checkpoint got once it did, not before.
func afterTheSecond(t *testing.T, fakeClock *clocktesting.FakeClock, next chan taken) taken {
	t.Helper()
	waitForTimers(t, fakeClock, 2) // its look, and the previous one's give-back
	fakeClock.Step(archiveSpacing - time.Millisecond)
	waitForTimers(t, fakeClock, 2)
	select {
	case got := <-next:
		t.Fatalf("the next checkpoint started within a second of the previous: %v %v", got.ok, got.err)
	default:
	}
	fakeClock.Step(time.Millisecond)
	got := <-next
	if !got.ok || got.err != nil {
		t.Fatalf("the next checkpoint: %v %v", got.ok, got.err)
	}
	return got
}

// TestTakeAcrossReplicas: two replicas on one store keep one checkpoint of a
// container in flight, space two of them by a second, write the node's claim
// twice per checkpoint, and leave no claim behind.
func TestTakeAcrossReplicas(t *testing.T) {
	ctx, store, fakeClock, a, b := twoReplicas(t)
	watch(t, ctx, a)
	watch(t, ctx, b)
	first := mustTake(t, ctx, a, "web")
	if n := store.writeCount(); n != 1 {
		t.Errorf("%d writes before the kubelet is asked, want 1", n)
	}
	// Through its own replica: refused at once.
	_, ok, err := take(ctx, a, "web")
	if ok {
		t.Fatal("took a container whose checkpoint is in flight")
	}
	want409(t, err, "apiserver-a")
	// Through the other replica: refused once the first has had its grace
	// to be marked ended, which it was not.
	caughtUp(t, b, store)
	refused := goTake(ctx, b, "web")
	for range claimGrace / claimPoll {
		waitForTimers(t, fakeClock, 1)
		select {
		case got := <-refused:
			t.Fatalf("refused without giving the first its grace to be marked ended: %v %v", got.ok, got.err)
		default:
		}
		fakeClock.Step(claimPoll)
	}
	got := <-refused
	want409(t, got.err, "apiserver-a")

	other := mustTake(t, ctx, b, "other")
	if pods := listed(t, store); strings.Join(pods, ",") != "default/web,default/other" {
		t.Errorf("listed %v, want both checkpoints in flight", pods)
	}

	// Answered: the next one through the other replica starts a second
	// after it saw the first's end.
	first.Done(true)
	eventually(t, "the first's end was not written", func() bool {
		return slices.Contains(listed(t, store), "default/web (ended)")
	})
	caughtUp(t, a, store)
	caughtUp(t, b, store)
	next := goTake(ctx, b, "web")
	got = afterTheSecond(t, fakeClock, next)
	got.held.Done(true)
	caughtUp(t, b, store)
	other.Done(false)
	waitForTimers(t, fakeClock, 1)
	fakeClock.Step(archiveSpacing)
	eventually(t, "claims left after the checkpoints ended", func() bool { return len(store.leases(t)) == 0 })
	if n := store.writeCount(); n > 9 {
		t.Errorf("%d writes for three checkpoints, want at most 9 (three each): %v", n, store.writes)
	}
}

// TestTakeInFlightWhenAsked: through another replica, a checkpoint asked
// while the container's last one was in flight is refused with 409 even
// when that one ends within the second it is given, since it ended after
// this one was asked.
func TestTakeInFlightWhenAsked(t *testing.T) {
	ctx, store, fakeClock, a, b := twoReplicas(t)
	watch(t, ctx, b)
	first := mustTake(t, ctx, a, "web")
	caughtUp(t, b, store)
	refused := goTake(ctx, b, "web")
	waitForTimers(t, fakeClock, 1)
	fakeClock.Step(500 * time.Millisecond)
	first.Done(true)
	select {
	case got := <-refused:
		want409(t, got.err, "apiserver-a")
	case <-time.After(10 * time.Second):
		t.Fatal("not refused when the checkpoint in flight ended")
	}
	waitForTimers(t, fakeClock, 1) // the first's give-back
	fakeClock.Step(archiveSpacing)
	eventually(t, "the first checkpoint was not taken out a second after its answer", func() bool { return len(store.leases(t)) == 0 })
}

// TestTakeSameReplicaSpacing: through its own replica, the next checkpoint
// of a container waits out the second after the previous answer and
// replaces it in the node's claim.
func TestTakeSameReplicaSpacing(t *testing.T) {
	ctx := context.Background()
	store, fakeClock := newLeaseStore(), newFakeClock()
	a := NewClaims(store, "apiserver-a", 0, 0, fakeClock)
	mustTake(t, ctx, a, "web").Done(true)
	next := goTake(ctx, a, "web")
	got := afterTheSecond(t, fakeClock, next)
	a.background.Add(1) // the first's give-back has run once this returns
	a.background.Done()
	eventually(t, "the first checkpoint's give-back did not run", func() bool { return fakeClock.Waiters() == 0 })
	if pods := listed(t, store); strings.Join(pods, ",") != "default/web" {
		t.Errorf("listed %v, want the next checkpoint alone", pods)
	}
	got.held.Done(false)
	a.background.Wait()
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left: %v", names(left))
	}
}

// TestTakeNodeFull: the bound per node counts the checkpoints of every
// replica; when the node is full, an answer is written at once and a
// checkpoint waiting on another replica takes the place; one that waits
// longer than the claims' wait gets none.
func TestTakeNodeFull(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock := newLeaseStore(), newFakeClock()
	a := NewClaims(store, "apiserver-a", 1, 5*time.Second, fakeClock)
	b := NewClaims(store, "apiserver-b", 1, 5*time.Second, fakeClock)
	watch(t, ctx, b)
	first := mustTake(t, ctx, a, "web")
	caughtUp(t, b, store)
	waiting := goTake(ctx, b, "other")
	waitForTimers(t, fakeClock, 1)
	first.Done(true)
	got := <-waiting // no time passes: the answer is written at once
	if !got.ok || got.err != nil {
		t.Fatalf("the checkpoint waiting for the node: %v %v", got.ok, got.err)
	}
	if pods := listed(t, store); strings.Join(pods, ",") != "default/web (ended),default/other" {
		t.Errorf("listed %v, want the first ended and the second in flight", pods)
	}

	fakeClock.Step(archiveSpacing) // the first given back
	a.background.Add(1)
	a.background.Done()
	eventually(t, "the first's give-back did not run", func() bool { return fakeClock.Waiters() == 0 })
	refused := goTake(ctx, a, "third")
	for range 5 {
		waitForTimers(t, fakeClock, 1)
		fakeClock.Step(time.Second)
	}
	if got := <-refused; got.ok || got.err != nil {
		t.Fatalf("a checkpoint that found no place in time: %v %v, want none and no error", got.ok, got.err)
	}
	got.held.Done(false)
	fakeClock.Step(archiveSpacing)
	eventually(t, "claims left after the checkpoints ended", func() bool { return len(store.leases(t)) == 0 })
}

// TestTakeExpires: a replica that stopped in the middle of a checkpoint
// holds its container and its place until they expire; then another replica
// takes them, and garbage collection deletes the claims nobody holds.
func TestTakeExpires(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock := newLeaseStore(), newFakeClock()
	dead := NewClaims(store, "apiserver-dead", 1, 0, fakeClock)
	alive := NewClaims(store, "apiserver-alive", 1, 0, fakeClock)
	if _, ok, err := take(ctx, dead, "web"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, err := dead.Take(ctx, "default", "db", "app", "node2", time.Minute, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	watch(t, ctx, alive)
	eventually(t, "the watch never showed the dead replica's claims", func() bool { return len(alive.informer.GetStore().List()) == 2 })
	fakeClock.Step(time.Minute - claimGrace - time.Second)
	refused := goTake(ctx, alive, "web")
	for range claimGrace / claimPoll {
		waitForTimers(t, fakeClock, 1)
		fakeClock.Step(claimPoll)
	}
	if got := <-refused; !apierrors.IsConflict(got.err) {
		t.Fatalf("before the claim expired: %v %v, want 409", got.ok, got.err)
	}
	if _, ok, err := take(ctx, alive, "other"); ok || err != nil {
		t.Fatalf("before the claim expired: %v %v, want no place", ok, err)
	}
	fakeClock.Step(time.Second - time.Millisecond)
	if _, ok, err := take(ctx, alive, "other"); ok || err != nil {
		t.Fatalf("a millisecond before the claim expired: %v %v, want no place", ok, err)
	}
	fakeClock.Step(time.Millisecond)
	held := mustTake(t, ctx, alive, "web")
	held.Done(false)
	alive.background.Wait()
	if pods := listed(t, store); strings.Join(pods, ",") != "default/db" {
		t.Errorf("listed %v, want the dead replica's on node2", pods)
	}
	alive.collect(ctx)
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left after garbage collection: %v", names(left))
	}
}

// TestTakeWriteFails: a claim that cannot be written refuses the checkpoint
// with the reason, and nothing is half-done.
func TestTakeWriteFails(t *testing.T) {
	store, fakeClock := newLeaseStore(), newFakeClock()
	store.PrependReactor("create", "leases", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ClaimNamespace)
	})
	c := NewClaims(store, "apiserver-a", 1, 0, fakeClock)
	_, _, err := take(context.Background(), c, "web")
	if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != 500 ||
		!strings.Contains(err.Error(), "cannot write the checkpoint's claim (a Lease in namespace kube-system)") {
		t.Fatalf("got %v, want 500 naming the claim", err)
	}
	if len(c.nodes) != 0 {
		t.Errorf("kept what it knew of %d nodes", len(c.nodes))
	}
}

// TestTakeLostRace: a write that another replica got to first reads the
// claim again and lists the checkpoint beside the other's.
func TestTakeLostRace(t *testing.T) {
	ctx, store, _, a, b := twoReplicas(t)
	mustTake(t, ctx, a, "web")
	mustTake(t, ctx, b, "other") // its create fails: the claim exists
	mustTake(t, ctx, a, "third") // its update fails: b changed it
	if pods := listed(t, store); strings.Join(pods, ",") != "default/web,default/other,default/third" {
		t.Errorf("listed %v, want all three", pods)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.writes["create"] != 2 || store.writes["update"] != 3 {
		t.Errorf("writes %v, want 2 creates (one refused) and 3 updates (one refused)", store.writes)
	}
}

func names(leases []coordinationv1.Lease) []string {
	var n []string
	for _, l := range leases {
		n = append(n, l.Name)
	}
	return n
}

// TestTakeGivenBackBesideAnother: a checkpoint is taken out of its node's
// claim a second after its answer even while another is listed, here one
// of a replica that died in the middle of it and that nobody else writes
// until it expires.
func TestTakeGivenBackBesideAnother(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, fakeClock := newLeaseStore(), newFakeClock()
	dead := NewClaims(store, "apiserver-dead", 4, 0, fakeClock)
	a := NewClaims(store, "apiserver-a", 4, 0, fakeClock)
	watch(t, ctx, a)
	mustTake(t, ctx, dead, "slow") // never given back
	caughtUp(t, a, store)
	held := mustTake(t, ctx, a, "web")
	held.Done(true)
	eventually(t, "the end was not written", func() bool {
		return strings.Join(listed(t, store), ",") == "default/slow,default/web (ended)"
	})
	fakeClock.Step(archiveSpacing)
	eventually(t, "the checkpoint was left listed a second after its answer", func() bool {
		return strings.Join(listed(t, store), ",") == "default/slow"
	})
}

// TestTakeAfterOtherDeleted: a checkpoint waiting for the end of another
// replica's, through a replica whose last write of the claim listed that
// one, takes the container once its watch shows the other delete the claim:
// it does not fall back on its own older write, wait out the grace for an
// end that will never be written, and refuse with 409.
func TestTakeAfterOtherDeleted(t *testing.T) {
	ctx, store, fakeClock, a, b := twoReplicas(t)
	watch(t, ctx, a)
	other := mustTake(t, ctx, a, "other")
	web := mustTake(t, ctx, b, "web")
	other.Done(false)
	a.background.Wait() // a's last write lists b's checkpoint
	if pods := listed(t, store); strings.Join(pods, ",") != "default/web" {
		t.Fatalf("listed %v, want b's checkpoint alone", pods)
	}
	caughtUp(t, a, store)
	next := goTake(ctx, a, "web")
	waitForTimers(t, fakeClock, 1) // a waits for b's end
	web.Done(false)
	b.background.Wait() // b deleted the claim
	got := waitTaken(t, next, "waited for a checkpoint of another replica whose claim the watch showed deleted")
	if !got.ok || got.err != nil {
		t.Fatalf("took %v %v, want the container taken", got.ok, got.err)
	}
	got.held.Done(false)
}

// waitTaken is what a checkpoint taken in the background got, within 5s.
func waitTaken(t *testing.T, next chan taken, stuck string) taken {
	t.Helper()
	select {
	case got := <-next:
		return got
	case <-time.After(5 * time.Second):
		t.Fatal(stuck)
	}
	return taken{}
}

// TestTakeWaitRereads: a checkpoint that waits for the end of another
// replica's reads the claim as stored when its watch shows no change, so a
// late watch neither holds it nor refuses it.
func TestTakeWaitRereads(t *testing.T) {
	ctx, store, fakeClock, a, b := twoReplicas(t)
	// No watch: what b knows of the claim is what it last wrote or read.
	first := mustTake(t, ctx, a, "web")
	next := goTake(ctx, b, "web")
	waitForTimers(t, fakeClock, 1) // b waits for the first's end
	fakeClock.Step(claimClockSkew)
	first.Done(true) // answered as b was asked, as far as clocks tell
	eventually(t, "the first's end was not written", func() bool {
		return slices.Contains(listed(t, store), "default/web (ended)")
	})
	fakeClock.Step(claimPoll - claimClockSkew) // b reads the end
	waitForTimers(t, fakeClock, 2)             // b waits out the second; a's give-back
	select {
	case got := <-next:
		t.Fatalf("the next checkpoint started within a second of the previous: %v %v", got.ok, got.err)
	default:
	}
	fakeClock.Step(archiveSpacing)
	got := waitTaken(t, next, "never read the claim as stored")
	if !got.ok || got.err != nil {
		t.Fatalf("the checkpoint through the replica whose watch was late: %v %v", got.ok, got.err)
	}
	got.held.Done(false)
	a.background.Wait()
	b.background.Wait()
	if left := store.leases(t); len(left) != 0 {
		t.Errorf("claims left: %v", names(left))
	}
}
