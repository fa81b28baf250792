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

package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KubeletRequest is what the kubelet stand-in saw of one request.
type KubeletRequest struct {
	Method, Path, RawQuery string
	// ClientCN is the common name of the client certificate.
	ClientCN string
}

// FakeKubelet is a TLS server on loopback that serves the kubelet's
// checkpoint endpoint behind client-certificate authentication, with a
// handler each test chooses.
type FakeKubelet struct {
	Port     int
	server   *http.Server
	listener net.Listener

	mu       sync.Mutex
	handler  http.HandlerFunc
	summary  http.HandlerFunc
	requests []KubeletRequest
	// summaries counts the requests for /stats/summary, which Requests
	// leaves out.
	summaries int
}

// StartFakeKubelet serves on a free loopback port with a certificate of pki,
// and accepts only clients with a certificate of pki.
func StartFakeKubelet(pki *PKI, name string) (*FakeKubelet, error) {
	serving, err := pki.ServingCert("kubelet-" + name)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(serving.CertFile, serving.KeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		return nil, err
	}
	k := &FakeKubelet{Port: l.Addr().(*net.TCPAddr).Port, listener: l}
	k.server = &http.Server{Handler: http.HandlerFunc(k.serve)}
	go func() { _ = k.server.Serve(l) }()
	return k, nil
}

// SetHandler chooses how the next requests are answered.
func (k *FakeKubelet) SetHandler(h http.HandlerFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.handler = h
}

// SetSummary chooses how the next requests for the kubelet's summary
// (/stats/summary) are answered; nil answers 404, as a kubelet without it.
func (k *FakeKubelet) SetSummary(h http.HandlerFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.summary = h
}

// Summaries returns and forgets how many summaries were asked for.
func (k *FakeKubelet) Summaries() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.summaries
	k.summaries = 0
	return n
}

// Requests returns and forgets the requests seen so far.
func (k *FakeKubelet) Requests() []KubeletRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.requests
	k.requests = nil
	return r
}

func (k *FakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
	req := KubeletRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.ClientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	k.mu.Lock()
	h := k.handler
	if r.URL.Path == "/stats/summary" {
		k.summaries++
		h = k.summary
	} else {
		k.requests = append(k.requests, req)
	}
	k.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// Stop closes the server and every connection.
func (k *FakeKubelet) Stop() {
	_ = k.server.Close()
}

// LinuxNode is what a Linux node reports of itself by default here: the
// node stack of make local-up.
var LinuxNode = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v1.37.2", ContainerRuntimeVersion: "containerd://2.2.9"}

// RegisterNode creates a Node whose InternalIP is loopback and whose kubelet
// port is port, as a Linux kubelet would report it.
func RegisterNode(ctx context.Context, client kubernetes.Interface, name string, port int) error {
	return RegisterNodeWith(ctx, client, name, port, LinuxNode)
}

// RegisterNodeWith registers a node as RegisterNode does, reporting info as
// its kubelet, runtime and operating system.
func RegisterNodeWith(ctx context.Context, client kubernetes.Interface, name string, port int, info corev1.NodeSystemInfo) error {
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		NodeInfo:        info,
	}
	_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}
