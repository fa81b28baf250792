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
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// NodeLimiter bounds the checkpoints in flight per node: a checkpoint
// freezes a container and writes all of its memory to the node's disk, and a
// node asked for many at once slows every one of them and its other pods. A
// checkpoint that finds its node at the bound waits, for a while, for a place
// to be given back (as API Priority and Fairness queues requests), so that a
// burst of checkpoints is served at the node's pace instead of being refused.
type NodeLimiter struct {
	max   int
	wait  time.Duration
	clock clock.Clock

	mu       sync.Mutex
	inFlight map[string]int
	// freed is closed, and forgotten, when a place on the node is given back.
	freed map[string]chan struct{}
}

// NewNodeLimiter allows max checkpoints in flight per node, max <= 0 any
// number; one more waits up to wait for a place.
func NewNodeLimiter(max int, wait time.Duration, clk clock.Clock) *NodeLimiter {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &NodeLimiter{max: max, wait: wait, clock: clk, inFlight: map[string]int{}, freed: map[string]chan struct{}{}}
}

// Max is the bound per node, 0 for none.
func (l *NodeLimiter) Max() int {
	if l == nil || l.max <= 0 {
		return 0
	}
	return l.max
}

// Wait is how long a checkpoint waits for a place.
func (l *NodeLimiter) Wait() time.Duration {
	if l == nil {
		return 0
	}
	return l.wait
}

// Acquire takes a place on node, waiting for one up to the limiter's wait
// (at most limit, the checkpoint's own timeout) or until ctx ends; it reports
// false when it got none. Every successful Acquire must be followed by one
// Release.
func (l *NodeLimiter) Acquire(ctx context.Context, node string, limit time.Duration) bool {
	if l.Max() == 0 {
		return true
	}
	var deadline clock.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		l.mu.Lock()
		if l.inFlight[node] < l.max {
			l.inFlight[node]++
			l.mu.Unlock()
			return true
		}
		freed, ok := l.freed[node]
		if !ok {
			freed = make(chan struct{})
			l.freed[node] = freed
		}
		l.mu.Unlock()
		wait := min(l.wait, limit)
		if wait <= 0 {
			return false
		}
		if deadline == nil {
			deadline = l.clock.NewTimer(wait)
		}
		select {
		case <-freed:
		case <-deadline.C():
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Release gives back a place taken on node.
func (l *NodeLimiter) Release(node string) {
	if l.Max() == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[node]--; l.inFlight[node] <= 0 {
		delete(l.inFlight, node)
	}
	if freed, ok := l.freed[node]; ok {
		close(freed)
		delete(l.freed, node)
	}
}

// ArchiveGuard keeps two checkpoints of one container from being given the
// same archive: the kubelet names an archive by pod, container and the second
// the checkpoint started on the node, so a second checkpoint within that
// second would silently overwrite the first. A container has at most one
// checkpoint in flight, and the next one starts at least a second after the
// previous one ended (by then the node's clock has passed the second the
// previous archive is named after, whatever its offset from ours).
type ArchiveGuard struct {
	mu    sync.Mutex
	busy  map[string]bool
	ended map[string]time.Time
}

// NewArchiveGuard returns an empty guard.
func NewArchiveGuard() *ArchiveGuard {
	return &ArchiveGuard{busy: map[string]bool{}, ended: map[string]time.Time{}}
}

// Begin marks a checkpoint of key in flight and returns how long to wait
// before asking the kubelet, or false when one is in flight already.
func (g *ArchiveGuard) Begin(key string, now time.Time) (time.Duration, bool) {
	if g == nil {
		return 0, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy[key] {
		return 0, false
	}
	g.busy[key] = true
	wait := time.Duration(0)
	if ended, ok := g.ended[key]; ok {
		wait = max(0, ended.Add(time.Second).Sub(now))
	}
	// Forget what no longer matters, so the map stays small.
	for k, t := range g.ended {
		if now.Sub(t) > time.Second {
			delete(g.ended, k)
		}
	}
	return wait, true
}

// End marks the checkpoint of key done at now.
func (g *ArchiveGuard) End(key string, now time.Time) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.busy, key)
	g.ended[key] = now
}
