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

// Package rest serves the checkpoint subresource of pods, beside the exec and
// attach subresources of k8s.io/kubernetes/pkg/registry/core/pod/rest.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/client"
	podregistry "k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/utils/clock"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core/validation"
	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

// KubeletGrace is how long the apiserver waits for the kubelet beyond the
// checkpoint's own timeout, so that the kubelet can report its runtime's
// timeout before the apiserver gives up on it.
const KubeletGrace = 5 * time.Second

// maxKubeletResponse bounds what is read of a kubelet answer: a list of paths
// or an error message.
const maxKubeletResponse = 64 << 10

// maxKubeletText bounds what of a kubelet's answer is quoted in an API error,
// an Event or a log line.
const maxKubeletText = 1024

// StatusClientClosedRequest labels the metrics of a checkpoint whose client
// hung up before the kubelet answered (nginx's 499): the kubelet call is
// cancelled, and neither the node nor the kubelet is blamed for it.
const StatusClientClosedRequest = 499

// CheckpointREST implements the checkpoint subresource for a Pod
type CheckpointREST struct {
	Store podregistry.ResourceGetter
	// Nodes is read for what the pod's node reports of its kubelet, runtime
	// and operating system, to refuse a node that cannot checkpoint and to
	// name its runtime when it cannot; nil reads nothing.
	Nodes       podregistry.ResourceGetter
	KubeletConn client.ConnectionInfoGetter
	// DefaultTimeout applies when a request names no timeoutSeconds.
	DefaultTimeout time.Duration
	// MaxTimeout is the largest timeoutSeconds a request may ask for.
	MaxTimeout time.Duration
	// Claims keeps the checkpoints of every apiserver replica apart: one
	// in flight per container, a second between two of a container (so no
	// archive is overwritten) and a bound per node; nil keeps none apart.
	Claims *Claims
	// Events records an Event on the pod for every checkpoint the kubelet
	// was asked for; nil records none.
	Events record.EventRecorder
	// Serializer is the one the core group answers with. A request for an
	// encoding it cannot write is refused (406) before the checkpoint is
	// taken, not after; nil checks nothing.
	Serializer runtime.NegotiatedSerializer
	// RefuseNodeConditions are the node conditions in which no container of
	// the node is checkpointed (--checkpoint-refuse-node-conditions); none
	// refuses nothing.
	RefuseNodeConditions []NodeCondition
	// DiskReserve is what an archive must leave free on its node
	// (--checkpoint-node-disk-reserve), asked of the kubelet beside the
	// claims; nil asks nothing.
	DiskReserve *DiskReserve
	// disks are the nodes' latest summaries.
	disks nodeDisks
	// Clock bounds each checkpoint and spaces checkpoints of one container;
	// nil is the real clock.
	Clock clock.Clock
}

func (r *CheckpointREST) clock() clock.Clock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

// Implement Connecter
var _ = rest.Connecter(&CheckpointREST{})

// Implement StorageMetadata so discovery and OpenAPI name the result type
var _ = rest.StorageMetadata(&CheckpointREST{})

var checkpointMethods = []string{"POST"}

// New creates a new podCheckpointOptions object.
func (r *CheckpointREST) New() runtime.Object {
	return &core.PodCheckpointOptions{}
}

// Destroy cleans up resources on shutdown.
func (r *CheckpointREST) Destroy() {
	// Given that underlying store is shared with REST,
	// we don't destroy it here explicitly.
}

// ConnectMethods returns the methods supported by checkpoint
func (r *CheckpointREST) ConnectMethods() []string {
	return checkpointMethods
}

// NewConnectOptions returns the versioned object that represents checkpoint parameters
func (r *CheckpointREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &core.PodCheckpointOptions{}, false, ""
}

// ProducesMIMETypes returns the MIME types a checkpoint answers with
func (r *CheckpointREST) ProducesMIMETypes(verb string) []string {
	return nil
}

// ProducesObject returns the object a checkpoint answers with
func (r *CheckpointREST) ProducesObject(verb string) interface{} {
	return checkpointv1.PodCheckpointResult{}
}

// Connect returns a handler that checkpoints the container through its kubelet
func (r *CheckpointREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	checkpointOpts, ok := opts.(*core.PodCheckpointOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if errs := validation.ValidatePodCheckpointOptions(checkpointOpts, r.MaxTimeout); len(errs) > 0 {
		return nil, badQuery(name, errs)
	}
	timeout := r.DefaultTimeout
	if checkpointOpts.TimeoutSeconds != nil {
		timeout = time.Duration(*checkpointOpts.TimeoutSeconds) * time.Second
	}
	// The pod as the watch cache holds it, read again from etcd beside the
	// claims; what the cache refuses is read from etcd at once, which may
	// be ahead of it.
	cached := true
	target, err := pod.CheckpointLocation(ctx, r.Store, r.Nodes, r.KubeletConn, name, checkpointOpts.Container, timeout, cached)
	if err != nil {
		cached = false
		target, err = pod.CheckpointLocation(ctx, r.Store, r.Nodes, r.KubeletConn, name, checkpointOpts.Container, timeout, cached)
	}
	if err != nil {
		return nil, err
	}
	// What protects the node is checked before anything is asked of it.
	for _, refused := range []error{
		nodeCannotCheckpoint(target),
		archiveNameTooLong(target),
		nodeConditionRefuses(target, r.RefuseNodeConditions),
	} {
		if refused != nil {
			return nil, r.refuse(target, refused)
		}
	}
	return &checkpointHandler{rest: r, target: target, timeout: timeout, responder: responder, confirm: cached}, nil
}

// badQuery is the one shape of every bad query of pods/checkpoint: 400
// BadRequest, as the apiserver answers a query it cannot decode, with the
// field errors as the message, as for a query the conversion refuses, and as
// causes so that clients can tell which parameter is wrong.
func badQuery(name string, errs field.ErrorList) *apierrors.StatusError {
	status := apierrors.NewInvalid(core.Kind("PodCheckpointOptions"), name, errs).ErrStatus
	status.Code = http.StatusBadRequest
	status.Reason = metav1.StatusReasonBadRequest
	status.Message = errs.ToAggregate().Error()
	return &apierrors.StatusError{ErrStatus: status}
}

// checkpointHandler asks one kubelet for one checkpoint and answers with the
// result or with the kubelet's failure mapped to an API status.
type checkpointHandler struct {
	rest      *CheckpointREST
	target    *pod.CheckpointTarget
	timeout   time.Duration
	responder rest.Responder
	// confirm reads the pod from etcd beside the claims: the target was
	// found in the watch cache.
	confirm bool
}

func (h *checkpointHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h.rest.Serializer != nil {
		if _, _, err := negotiation.NegotiateOutputMediaType(req, h.rest.Serializer, negotiation.DefaultEndpointRestrictions); err != nil {
			h.responder.Error(err)
			return
		}
	}
	p := h.target.Pod
	node := p.Spec.NodeName
	clk := h.rest.clock()
	// The claims are held as long as the kubelet may take.
	hold := h.timeout + KubeletGrace
	// The kubelet's disk is asked about while the claims are taken; a newer
	// summary, once the checkpoint is answered.
	answered := make(chan struct{})
	defer close(answered)
	type diskAnswer struct {
		disk *nodeDisk
		use  diskUse
	}
	var disk chan diskAnswer
	if h.rest.DiskReserve != nil {
		disk = make(chan diskAnswer, 1)
		go func() {
			d, use, err := h.rest.disks.ask(req.Context(), clk, h.target, answered)
			if err != nil {
				klog.V(2).InfoS("Checkpoint goes ahead without knowing the node's disk", "node", node, "pod", klog.KObj(p), "err", err)
			}
			disk <- diskAnswer{d, use}
		}()
	}
	// The container's claim and a place on the node, in one round of
	// writes; when it waited for a place, the container's claim is renewed
	// with it: the claim lasts from now.
	var confirmed chan error
	if h.confirm {
		confirmed = make(chan error, 1)
		go func() { confirmed <- pod.ConfirmCheckpointTarget(req.Context(), h.rest.Store, h.target) }()
	}
	held, ok, err := h.rest.Claims.Take(req.Context(), p.Namespace, p.Name, h.target.Container, node, h.timeout, hold)
	if confirmed != nil {
		if refused := <-confirmed; refused != nil {
			// The pod changed since the watch cache saw it: nothing was
			// asked of the node, and what was held is given back at once.
			if ok && err == nil {
				held.Done(false)
			}
			h.responder.Error(refused)
			return
		}
	}
	if err != nil {
		if apierrors.IsConflict(err) {
			recordRefused(http.StatusConflict)
		}
		h.responder.Error(err)
		return
	}
	if !ok {
		if req.Context().Err() != nil {
			return // the client left while waiting for a place: nobody to refuse
		}
		recordRefused(http.StatusTooManyRequests)
		h.responder.Error(apierrors.NewTooManyRequests(fmt.Sprintf("node %s already has %d checkpoints in flight (kube-apiserver --checkpoint-max-inflight-per-node, counted over every apiserver) and none ended within %s (--checkpoint-inflight-wait, at most the checkpoint's timeout): retry later", node, h.rest.Claims.Max(), min(h.rest.Claims.Wait(), h.timeout)), retryAfterSeconds))
		return
	}
	asked := false
	// What was held is given back once the answer is written, apart from
	// the request: the client does not wait for those writes.
	defer func() { held.Done(asked) }()

	if disk != nil {
		if answer := <-disk; answer.disk != nil {
			if err := h.rest.disks.admit(answer.disk, h.target, answer.use, *h.rest.DiskReserve); err != nil {
				h.responder.Error(h.rest.refuse(h.target, err))
				return
			}
		}
	}

	start := clk.Now()
	asked = true
	result, err := h.checkpoint(req.Context())
	if errors.Is(err, errClientClosed) {
		// Nobody is left to answer, and the kubelet did nothing wrong: no Event.
		recordCheckpoint(StatusClientClosedRequest, clk.Since(start))
		return
	}
	code := http.StatusOK
	if status, ok := err.(apierrors.APIStatus); ok {
		code = int(status.Status().Code)
	} else if err != nil {
		code = http.StatusInternalServerError
	}
	recordCheckpoint(code, clk.Since(start))
	h.recordEvent(result, err)
	if err != nil {
		h.responder.Error(err)
		return
	}
	h.responder.Object(http.StatusOK, result)
}

// errCheckpointTimeout cancels a checkpoint that outlasted its timeout.
var errCheckpointTimeout = errors.New("the checkpoint outlasted its timeout")

// errClientClosed is the outcome of a checkpoint whose client hung up.
var errClientClosed = errors.New("the client closed the request before the checkpoint completed")

// retryAfterSeconds is when a client refused for a busy node may try again:
// about one checkpoint of a small container, so that client-go, which waits
// out a 429's Retry-After and retries by itself, takes the next free slot
// rather than idling; a waiting client costs the apiserver one cheap 429 a
// second.
const retryAfterSeconds = 1

// recordEvent tells the pod's owners that a checkpoint was taken, or why not:
// an archive holds the container's memory, so its creation should be seen.
func (h *checkpointHandler) recordEvent(result *checkpointv1.PodCheckpointResult, err error) {
	if h.rest.Events == nil {
		return
	}
	p := h.target.Pod
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
	if err != nil {
		h.rest.Events.Eventf(ref, corev1.EventTypeWarning, "CheckpointFailed", "Checkpoint of container %s on node %s failed: %v", h.target.Container, p.Spec.NodeName, err)
		return
	}
	h.rest.Events.Eventf(ref, corev1.EventTypeNormal, "Checkpointed", "Checkpointed container %s on node %s: %s", h.target.Container, p.Spec.NodeName, kubeletText([]byte(strings.Join(result.ArchivePaths, ", "))))
}

func (h *checkpointHandler) checkpoint(clientCtx context.Context) (*checkpointv1.PodCheckpointResult, error) {
	// The checkpoint's own deadline, on the injected clock: cancelled with
	// errCheckpointTimeout, which tells it from a client that hung up.
	clk := h.rest.clock()
	ctx, cancel := context.WithCancelCause(clientCtx)
	defer cancel(nil)
	deadline := clk.NewTimer(h.timeout + KubeletGrace)
	defer deadline.Stop()
	go func() {
		select {
		case <-deadline.C():
			cancel(errCheckpointTimeout)
		case <-ctx.Done():
		}
	}()
	t := h.target
	nodeName := t.Pod.Spec.NodeName

	kubeletReq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Location.String(), nil)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	// A redirect is never followed: it would carry the apiserver's kubelet
	// credentials to wherever the kubelet (or whoever answers in its place)
	// points, as upstream refuses for logs and the kubelet proxy.
	redirected := ""
	client := &http.Client{Transport: t.Node.Transport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		redirected = req.URL.Host
		return genericrest.PreventRedirects(req, via)
	}}
	start := clk.Now()
	resp, err := client.Do(kubeletReq)
	if err != nil {
		return nil, h.transportError(clientCtx, ctx, redirected, "cannot reach the kubelet of node %s: %v", nodeName, err)
	}
	defer resp.Body.Close() //nolint:errcheck
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKubeletResponse))
	if err != nil {
		return nil, h.transportError(clientCtx, ctx, "", "lost the kubelet of node %s while it answered: %v", nodeName, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, h.kubeletError(resp.StatusCode, kubeletText(body))
	}

	paths, err := archivePaths(nodeName, body)
	if err != nil {
		return nil, err
	}
	return &checkpointv1.PodCheckpointResult{
		TypeMeta:             metav1.TypeMeta{APIVersion: checkpointv1.SchemeGroupVersion.String(), Kind: "PodCheckpointResult"},
		NodeName:             nodeName,
		HostIP:               t.Pod.Status.HostIP,
		Namespace:            t.Pod.Namespace,
		PodName:              t.Pod.Name,
		PodUID:               string(t.Pod.UID),
		ContainerName:        t.Container,
		ArchivePaths:         paths,
		CheckpointTime:       metav1.NewTime(clk.Now()),
		DurationMilliseconds: clk.Since(start).Milliseconds(),
	}, nil
}

// archivePaths reads where the kubelet wrote the archive from its answer,
// {"items": [PATH, ...]}.
func archivePaths(nodeName string, body []byte) ([]string, error) {
	var answer struct {
		Items []string `json:"items"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || len(answer.Items) == 0 {
		return nil, apierrors.NewInternalError(fmt.Errorf("the kubelet of node %s answered the checkpoint without an archive path: %s", nodeName, kubeletText(body)))
	}
	return answer.Items, nil
}

// transportError maps a failed exchange with the kubelet: the client hung up,
// the checkpoint ran out of time, the kubelet redirected, or it could not be
// reached (503).
func (h *checkpointHandler) transportError(clientCtx, ctx context.Context, redirected string, format string, args ...any) error {
	switch {
	case errors.Is(context.Cause(ctx), errCheckpointTimeout):
		return h.timeoutError()
	case clientCtx.Err() != nil:
		return errClientClosed
	case redirected != "":
		return apierrors.NewInternalError(fmt.Errorf("the kubelet of node %s answered the checkpoint with a redirect (to %s), which the apiserver does not follow", h.target.Pod.Spec.NodeName, kubeletText([]byte(redirected))))
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf(format, args...))
}

// kubeletText makes what a kubelet answered fit to quote in an API error, an
// Event or a log line: valid UTF-8 without control characters (a newline or
// an escape sequence could forge a log line or a terminal's output), at most
// maxKubeletText bytes.
func kubeletText(body []byte) string {
	text := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, string(body)))
	if len(text) <= maxKubeletText {
		return text
	}
	cut := maxKubeletText
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d more bytes)", text[:cut], len(text)-cut)
}

func (h *checkpointHandler) timeoutError() error {
	t := h.target
	return apierrors.NewTimeoutError(fmt.Sprintf("the checkpoint of container %s of pod %s/%s did not complete within %s", t.Container, t.Pod.Namespace, t.Pod.Name, h.timeout), 0)
}

// kubeletError maps a kubelet's refusal to the status a user can act on.
func (h *checkpointHandler) kubeletError(code int, body string) error {
	t := h.target
	nodeName := t.Pod.Spec.NodeName
	switch {
	case code == http.StatusNotFound && strings.Contains(body, "does not exist"):
		// The kubelet answered from its checkpoint handler: the pod or container
		// is not (or no longer) running there.
		return apierrors.NewNotFound(core.Resource("pods"), fmt.Sprintf("%s/%s (the kubelet of node %s: %s)", t.Pod.Name, t.Container, nodeName, body))
	case code == http.StatusNotFound:
		return notImplemented(fmt.Sprintf("node %s does not support checkpointing: its kubelet has no checkpoint endpoint (the kubelet's ContainerCheckpoint feature gate is off, or the kubelet is older than v1.25)", nodeName))
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return apierrors.NewInternalError(fmt.Errorf("the kubelet of node %s refused the apiserver (HTTP %d: %s): the apiserver's kubelet client identity needs the create verb on nodes/checkpoint, which the ClusterRole system:kubelet-api-admin grants", nodeName, code, body))
	case strings.Contains(body, "DeadlineExceeded") || strings.Contains(body, "deadline exceeded"):
		return h.timeoutError()
	default:
		if err := runtimeCannotCheckpoint(t, body); err != nil {
			return err
		}
		return apierrors.NewInternalError(fmt.Errorf("the container runtime of node %s could not checkpoint container %s (kubelet HTTP %d): %s", nodeName, t.Container, code, body))
	}
}

// StatusReasonNotImplemented is the reason of a checkpoint refused because
// the pod's node cannot checkpoint.
const StatusReasonNotImplemented metav1.StatusReason = "NotImplemented"
