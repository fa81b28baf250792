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
	"sync"
	"time"
)

// NodeLimiter bounds the checkpoints in flight per node: a checkpoint
// freezes a container and writes all of its memory to the node's disk, and a
// node asked for many at once slows every one of them and its other pods.
type NodeLimiter struct {
	max      int
	mu       sync.Mutex
	inFlight map[string]int
}

// NewNodeLimiter allows max checkpoints in flight per node; max <= 0 allows
// any number.
func NewNodeLimiter(max int) *NodeLimiter {
	return &NodeLimiter{max: max, inFlight: map[string]int{}}
}

// Max is the bound per node, 0 for none.
func (l *NodeLimiter) Max() int {
	if l == nil || l.max <= 0 {
		return 0
	}
	return l.max
}

// TryAcquire takes a place on node, or reports that node is at its bound.
// Every successful TryAcquire must be followed by one Release.
func (l *NodeLimiter) TryAcquire(node string) bool {
	if l.Max() == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[node] >= l.max {
		return false
	}
	l.inFlight[node]++
	return true
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
