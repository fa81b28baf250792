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
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/kubernetes/pkg/kubelet/client"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

const gi = 1 << 30

// summaryOf is the kubelet's summary of a node with available of capacity
// bytes free, running pod web's container app with rss bytes resident and
// layer bytes in its writable layer.
func summaryOf(available, capacity, rss, layer uint64) string {
	return fmt.Sprintf(`{"node":{"nodeName":"node1","fs":{"availableBytes":%d,"capacityBytes":%d,"usedBytes":%d}},
"pods":[{"podRef":{"name":"other","namespace":"default","uid":"uid-0"},"containers":[{"name":"app","memory":{"rssBytes":1}}]},
{"podRef":{"name":"web","namespace":"default","uid":"uid-1"},"containers":[{"name":"sidecar","memory":{"rssBytes":1}},
{"name":"app","memory":{"workingSetBytes":%d,"rssBytes":%d},"rootfs":{"usedBytes":%d}}]}]}`, available, capacity, capacity-available, rss*2, rss, layer)
}

// TestCheckpointDiskReserve: an archive that would leave less than the
// reserve free is refused with 507 before the kubelet is asked to
// checkpoint; a summary that cannot be had or read lets the checkpoint go
// ahead, as without the question.
func TestCheckpointDiskReserve(t *testing.T) {
	percent, _ := ParseDiskReserve("15%")
	bytes, _ := ParseDiskReserve("20Gi")
	for _, tc := range []struct {
		name    string
		reserve DiskReserve
		summary http.HandlerFunc
		code    int32
		message string
	}{
		{name: "fits", reserve: percent, summary: answer(200, summaryOf(50*gi, 100*gi, 4*gi, gi))},
		// 100 Gi, 15 Gi kept: 20 Gi free leaves 5 Gi for the archive.
		{name: "fits the reserve exactly", reserve: percent, summary: answer(200, summaryOf(20*gi, 100*gi, 5*gi-archiveOverhead, 0))},
		{name: "one byte over the reserve", reserve: percent, summary: answer(200, summaryOf(20*gi, 100*gi, 5*gi-archiveOverhead+1, 0)), code: 507,
			message: "the archive of container app of pod default/web would not fit on node node1: it is estimated at 5.0Gi (the container's memory and writable layer), the file system of the kubelet's root directory has 20.0Gi free of 100.0Gi, and kube-apiserver keeps 15.0Gi of it free (--checkpoint-node-disk-reserve=15%) so that the kubelet does not evict pods; free space on the node, or checkpoint a smaller container"},
		{name: "memory and layer together", reserve: percent, summary: answer(200, summaryOf(20*gi, 100*gi, 3*gi, 3*gi)), code: 507, message: "estimated at 6.0Gi"},
		{name: "below the reserve already", reserve: percent, summary: answer(200, summaryOf(10*gi, 100*gi, 0, 0)), code: 507, message: "has 10.0Gi free of 100.0Gi, and kube-apiserver keeps 15.0Gi"},
		{name: "a reserve in bytes", reserve: bytes, summary: answer(200, summaryOf(24*gi, 1000*gi, 5*gi, 0)), code: 507, message: "keeps 20.0Gi of it free (--checkpoint-node-disk-reserve=20Gi)"},
		{name: "summary refused", reserve: percent, summary: answer(403, "Forbidden")},
		{name: "summary malformed", reserve: percent, summary: answer(200, `{"node":`)},
		{name: "summary without the container", reserve: percent, summary: answer(200, strings.ReplaceAll(summaryOf(gi, 100*gi, 50*gi, 0), `"web"`, `"else"`))},
		{name: "summary without the node's file system", reserve: percent, summary: answer(200, `{"node":{"nodeName":"node1"},"pods":[]}`)},
		{name: "summary redirected", reserve: percent, summary: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://127.0.0.2:1/stats/summary", http.StatusFound)
		}},
		{name: "summary huge", reserve: percent, summary: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"node":{"nodeName":"` + strings.Repeat("n", maxSummary) + `"}}`))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var checkpointed atomic.Bool
			conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/stats/summary" {
					tc.summary(w, r)
					return
				}
				checkpointed.Store(true)
				_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
			})
			events := record.NewFakeRecorder(10)
			r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Events: events, DiskReserve: &tc.reserve}
			RegisterCheckpointMetrics()
			before, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues("507"))
			rec := connect(t, r, &core.PodCheckpointOptions{})
			if tc.code == 0 {
				if rec.err != nil || !checkpointed.Load() {
					t.Fatalf("got %v (checkpointed: %v), want the checkpoint taken", rec.err, checkpointed.Load())
				}
				return
			}
			expectStatus(t, rec.err, tc.code, tc.message)
			if checkpointed.Load() {
				t.Error("the kubelet was asked to checkpoint")
			}
			if after, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues("507")); after != before+1 {
				t.Errorf("refused_total{code=507} went from %v to %v, want one more", before, after)
			}
			if event := <-events.Events; !strings.HasPrefix(event, "Warning CheckpointRefused ") || !strings.Contains(event, tc.message) {
				t.Errorf("event %q", event)
			}
		})
	}
}

// TestCheckpointDiskSummaryHangs: a kubelet that does not answer its summary
// holds the checkpoint up for SummaryTimeout at most.
func TestCheckpointDiskSummaryHangs(t *testing.T) {
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/summary" {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
	})
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, DiskReserve: &DiskReserve{Percent: 15}}
	start := time.Now()
	rec := connect(t, r, &core.PodCheckpointOptions{})
	if took := time.Since(start); rec.err != nil || took < SummaryTimeout || took > SummaryTimeout+3*time.Second {
		t.Fatalf("got %v after %s, want the checkpoint after %s", rec.err, took, SummaryTimeout)
	}
}

func TestParseDiskReserve(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "15%", want: "15%"},
		{in: "0%", want: "0%"},
		{in: "20Gi", want: "20Gi"},
		{in: "500M", want: "500M"},
		{in: "100%", err: `"100%" is not a disk reserve: a percentage is a whole number from 0 to 99`},
		{in: "1.5%", err: "a percentage is a whole number"},
		{in: "-1Gi", err: `"-1Gi" is not a disk reserve: write a percentage of the file system (15%) or a quantity of bytes (20Gi)`},
		{in: "lots", err: "is not a disk reserve"},
	} {
		got, err := ParseDiskReserve(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v, want %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%q: got %v, %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSummary reads any summary a kubelet could send: never a panic; what
// it reads is a file system no fuller than its capacity and an estimate of
// at least the overhead, and an archive let through leaves the reserve free.
// go test -fuzz=FuzzSummary ./pkg/registry/core/pod/rest
func FuzzSummary(f *testing.F) {
	f.Add([]byte(summaryOf(50*gi, 100*gi, 4*gi, gi)), int64(15), int64(0))
	f.Add([]byte(summaryOf(20*gi, 100*gi, 1<<63, 1<<63)), int64(0), int64(20*gi))
	f.Add([]byte(`{"node":{"fs":{"availableBytes":2,"capacityBytes":1}}}`), int64(15), int64(0))
	f.Add([]byte(`null`), int64(99), int64(0))
	f.Fuzz(func(t *testing.T, body []byte, percent, bytes int64) {
		if percent < 0 || percent > 99 || bytes < 0 {
			return
		}
		target := &pod.CheckpointTarget{Pod: runningPod(), Container: "app"}
		summary, err := parseSummary(body)
		if err != nil {
			return
		}
		use, ok := summary.use(target)
		if !ok {
			return
		}
		if use.available > use.capacity || use.estimate < archiveOverhead {
			t.Fatalf("read %+v", use)
		}
		reserve := DiskReserve{Percent: percent, Bytes: bytes}
		err = diskRefuses(target, use, reserve)
		if fits := use.available >= reserve.of(use.capacity) && use.available-reserve.of(use.capacity) >= use.estimate; fits != (err == nil) {
			t.Fatalf("%+v with %s: refused %v", use, reserve, err)
		}
		if err != nil {
			quotable(t, "message", err.Error())
		}
	})
}

func answer(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// TestCheckpointDiskSummaryShared: one summary of a node serves its
// checkpoints for SummaryMaxAge, asked once however many wait for it; the
// archives let through since are counted against what it reported free; a
// pod the summary does not know yet and one that could not be had (the
// checkpoint went ahead) are asked anew; an older summary serves while a
// newer one is asked in the background once the checkpoint is answered,
// until it is SummaryStaleAge old.
func TestCheckpointDiskSummaryShared(t *testing.T) {
	var summaries, checkpoints, answeredBeforeSummary atomic.Int32
	var body, gate atomic.Value
	release := make(chan struct{})
	gate.Store(release)
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/summary" {
			summaries.Add(1)
			answeredBeforeSummary.Store(checkpoints.Load())
			<-gate.Load().(chan struct{})
			b := body.Load().(string)
			if b == "" {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(b))
			return
		}
		checkpoints.Add(1)
		_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
	})
	second := runningPod()
	second.Name, second.UID = "db", "uid-2"
	fakeClock := newFakeClock()
	r := &CheckpointREST{Store: podGetter{"web": runningPod(), "db": second}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour,
		DiskReserve: &DiskReserve{Percent: 15}, Clock: fakeClock}
	expect := func(t *testing.T, rec *recorder, code int32, words ...string) {
		t.Helper()
		if code == 0 {
			if rec.err != nil {
				t.Fatalf("got %v, want the checkpoint taken", rec.err)
			}
			return
		}
		expectStatus(t, rec.err, code, words...)
	}
	expectAsked := func(t *testing.T, wantSummaries, wantCheckpoints int32) {
		t.Helper()
		if got, gotCheckpoints := summaries.Load(), checkpoints.Load(); got != wantSummaries || gotCheckpoints != wantCheckpoints {
			t.Fatalf("the kubelet was asked %d summaries and %d checkpoints, want %d and %d", got, gotCheckpoints, wantSummaries, wantCheckpoints)
		}
	}

	// The summaries asked in the background, once watched.
	refreshed := make(chan struct{}, 1)
	watchRefresh := func() (unwatch func()) {
		r.disks.refreshed = func() { refreshed <- struct{}{} }
		return func() { r.disks.refreshed = nil }
	}
	waitRefreshed := func(t *testing.T) {
		t.Helper()
		select {
		case <-refreshed:
		case <-time.After(10 * time.Second):
			t.Fatal("no newer summary was asked in the background")
		}
	}
	// A summary that knows db, and not web, with available bytes free.
	dbSummary := func(available uint64) string {
		return strings.ReplaceAll(summaryOf(available, 100*gi, 9*gi-archiveOverhead, 0), `"name":"web","namespace":"default","uid":"uid-1"`, `"name":"db","namespace":"default","uid":"uid-2"`)
	}
	// 100 Gi with 15 Gi kept and 35 Gi free: two archives of 9 Gi fit, a
	// third does not.
	body.Store(summaryOf(35*gi, 100*gi, 9*gi-archiveOverhead, 0))
	t.Run("checkpoints at once ask once", func(t *testing.T) {
		recs := make(chan *recorder, 2)
		for range 2 {
			go func() { recs <- connect(t, r, &core.PodCheckpointOptions{}) }()
		}
		time.Sleep(100 * time.Millisecond) // both wait for the one summary
		close(release)
		expect(t, <-recs, 0)
		expect(t, <-recs, 0)
		expectAsked(t, 1, 2)
	})
	t.Run("the archives let through are counted", func(t *testing.T) {
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 507,
			"has 17.0Gi free of 100.0Gi (35.0Gi as the kubelet last reported, less 18.0Gi estimated for the archives checkpointed on it since), and kube-apiserver keeps 15.0Gi")
		expectAsked(t, 1, 2)
	})
	t.Run("a pod the summary does not know is asked anew", func(t *testing.T) {
		body.Store(dbSummary(35 * gi))
		expect(t, connectPod(t, r, "db", &core.PodCheckpointOptions{}), 0)
		expectAsked(t, 2, 3)
	})
	t.Run("an older summary serves while a newer one is asked", func(t *testing.T) {
		defer watchRefresh()()
		hold := make(chan struct{})
		gate.Store(hold)
		defer gate.Store(release)
		// The older summary: 35 Gi free less db's archive of 9 Gi, so one
		// more fits; the newer: 26 Gi free, less the archive let through
		// while it was asked, so none.
		body.Store(dbSummary(26 * gi))
		fakeClock.Step(SummaryMaxAge)
		expect(t, connectPod(t, r, "db", &core.PodCheckpointOptions{}), 0) // while the kubelet holds the newer one
		close(hold)
		waitRefreshed(t)
		expectAsked(t, 3, 4)
		if n := answeredBeforeSummary.Load(); n != 4 {
			t.Errorf("the newer summary was asked after %d checkpoints were answered, want 4: it ran beside the checkpoint", n)
		}
		expect(t, connectPod(t, r, "db", &core.PodCheckpointOptions{}), 507,
			"has 17.0Gi free of 100.0Gi (26.0Gi as the kubelet last reported, less 9.0Gi estimated for the archives checkpointed on it since)")
		expectAsked(t, 3, 4)
	})
	t.Run("a summary older than SummaryStaleAge is asked before", func(t *testing.T) {
		body.Store(summaryOf(35*gi, 100*gi, 9*gi-archiveOverhead, 0))
		fakeClock.Step(SummaryStaleAge)
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 0)
		expectAsked(t, 4, 5)
	})
	t.Run("a summary that could not be had is asked again", func(t *testing.T) {
		body.Store("")
		fakeClock.Step(SummaryStaleAge)
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 0)
		body.Store(summaryOf(15*gi, 100*gi, 0, 0))
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 507, "has 15.0Gi free of 100.0Gi, and")
		expectAsked(t, 6, 6)
	})
	t.Run("a newer summary that could not be had leaves the older to serve", func(t *testing.T) {
		defer watchRefresh()()
		body.Store("")
		fakeClock.Step(SummaryMaxAge)
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 507, "has 15.0Gi free of 100.0Gi, and")
		waitRefreshed(t)
		expect(t, connect(t, r, &core.PodCheckpointOptions{}), 507, "has 15.0Gi free of 100.0Gi, and")
		waitRefreshed(t) // asked again in the background: the last got none
		expectAsked(t, 8, 6)
	})
	if len(r.disks.nodes) != 1 {
		t.Errorf("%d nodes' summaries kept, want 1", len(r.disks.nodes))
	}
}

// TestCheckpointDiskSummaryRefusedKeepsConnection: a kubelet that refuses
// the summary (an apiserver whose kubelet client may not read nodes/stats)
// costs the checkpoints no new connection to it.
func TestCheckpointDiskSummaryRefusedKeepsConnection(t *testing.T) {
	var mu sync.Mutex
	opened := 0
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats/summary" {
			http.Error(w, "Forbidden (user=kube-apiserver-kubelet-client, verb=get, resource=nodes, subresource=stats)", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	conn := kubeletConn{&client.ConnectionInfo{Scheme: "https", Hostname: host, Port: port, Transport: s.Client().Transport}}
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, DiskReserve: &DiskReserve{Percent: 15}}
	for range 3 {
		if rec := connect(t, r, &core.PodCheckpointOptions{}); rec.err != nil || rec.code != http.StatusOK {
			t.Fatalf("got %d %v, want the checkpoint without the summary", rec.code, rec.err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if opened != 1 {
		t.Errorf("%d connections to the kubelet for 3 checkpoints and their summaries, want 1", opened)
	}
}
