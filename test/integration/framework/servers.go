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

// Package framework runs a real etcd and real kube-apiserver processes (the
// patched one from _output/bin, and upstream's for comparison) for the
// integration tests, with a TLS kubelet stand-in registered as a Node.
package framework

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// BinDir is where make test-binaries put etcd and the apiservers.
func BinDir() string {
	if dir := os.Getenv("KUBE_CHECKPOINT_BIN"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "_output", "bin")
}

// Process is a child process whose output goes to a log file.
type Process struct {
	Name    string
	LogFile string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

func start(dir, name, binary string, args ...string) (*Process, error) {
	logFile := filepath.Join(dir, name+".log")
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, and killed with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &Process{Name: name, LogFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = out.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop terminates the process and waits for it.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill SIGKILLs the process, as a machine that died would stop it, and waits
// for it.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// LogTail returns the last n bytes of the process's log.
func (p *Process) LogTail(n int) string {
	b, _ := os.ReadFile(p.LogFile)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close() //nolint:errcheck
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Etcd is a single-member etcd on loopback.
type Etcd struct {
	*Process
	URL string
}

// StartEtcd starts etcd with its data under dir.
func StartEtcd(dir string) (*Etcd, error) {
	clientPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	p, err := start(dir, "etcd", filepath.Join(BinDir(), "etcd"),
		"--name=test", "--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--listen-metrics-urls=",
		"--quota-backend-bytes=4294967296", "--unsafe-no-fsync")
	if err != nil {
		return nil, err
	}
	e := &Etcd{Process: p, URL: clientURL}
	err = waitFor(context.Background(), p, 60*time.Second, func() bool {
		resp, err := http.Get(clientURL + "/health")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// APIServer is a running kube-apiserver process.
type APIServer struct {
	*Process
	URL string
	// Admin is a system:masters client config.
	Admin *rest.Config
	pki   *PKI
}

// APIServerOptions choose the binary and what differs between servers.
type APIServerOptions struct {
	// Binary is kube-apiserver (the patched one) or kube-apiserver-upstream.
	Binary string
	// EtcdPrefix separates the servers that share one etcd.
	EtcdPrefix string
	// AuthorizationMode is --authorization-mode, Node,RBAC when empty (the
	// flag is a list: given again in ExtraArgs it would add to it).
	AuthorizationMode string
	// ExtraArgs are appended to the common flags.
	ExtraArgs []string
}

// Cluster is the shared PKI and etcd of a test binary's apiservers.
type Cluster struct {
	Dir           string
	PKI           *PKI
	Etcd          *Etcd
	serving       KeyPair
	kubeletClient KeyPair
	saKey         KeyPair
}

// KubeletClientUser is the apiserver's kubelet client identity: an ordinary
// user, as kubeadm makes it, not system:masters.
const KubeletClientUser = "kube-apiserver-kubelet-client"

// NewCluster creates the PKI and starts etcd under dir.
func NewCluster(dir string) (*Cluster, error) {
	pki, err := NewPKI(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, PKI: pki}
	if c.serving, err = pki.ServingCert("apiserver"); err != nil {
		return nil, err
	}
	if c.kubeletClient, err = pki.ClientCert(KubeletClientUser); err != nil {
		return nil, err
	}
	if c.saKey, err = pki.ServiceAccountKey(); err != nil {
		return nil, err
	}
	if c.Etcd, err = StartEtcd(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop stops etcd.
func (c *Cluster) Stop() {
	c.Etcd.Stop()
}

// CommonArgs are the flags every test apiserver gets, upstream's included.
func (c *Cluster) CommonArgs(port int, etcdPrefix, authorizationMode string) []string {
	if authorizationMode == "" {
		authorizationMode = "Node,RBAC"
	}
	return []string{
		"--etcd-servers=" + c.Etcd.URL,
		"--etcd-prefix=" + etcdPrefix,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		// Service IPs are only allocated, never dialled.
		"--service-cluster-ip-range=10.0.0.0/24",
		"--client-ca-file=" + c.PKI.CAFile,
		"--tls-cert-file=" + c.serving.CertFile,
		"--tls-private-key-file=" + c.serving.KeyFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + c.saKey.CertFile,
		"--service-account-signing-key-file=" + c.saKey.KeyFile,
		"--authorization-mode=" + authorizationMode,
		"--kubelet-client-certificate=" + c.kubeletClient.CertFile,
		"--kubelet-client-key=" + c.kubeletClient.KeyFile,
		"--kubelet-certificate-authority=" + c.PKI.CAFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--enable-priority-and-fairness=false",
	}
}

// StartAPIServer starts an apiserver on a free loopback port and waits until
// it is ready.
func (c *Cluster) StartAPIServer(name string, opts APIServerOptions) (*APIServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	admin, err := c.PKI.ClientCert("admin-"+name, "system:masters")
	if err != nil {
		return nil, err
	}
	args := append(c.CommonArgs(port, opts.EtcdPrefix, opts.AuthorizationMode), opts.ExtraArgs...)
	p, err := start(c.Dir, name, filepath.Join(BinDir(), opts.Binary), args...)
	if err != nil {
		return nil, err
	}
	s := &APIServer{
		Process: p,
		URL:     "https://127.0.0.1:" + strconv.Itoa(port),
		pki:     c.PKI,
	}
	s.Admin = s.ClientConfig(admin)
	client, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		return nil, err
	}
	err = waitFor(context.Background(), p, 120*time.Second, func() bool {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil && strings.TrimSpace(string(body)) == "ok"
	})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// ClientConfig returns a client config that authenticates with kp.
func (s *APIServer) ClientConfig(kp KeyPair) *rest.Config {
	return &rest.Config{
		Host: s.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   s.pki.CAFile,
			CertFile: kp.CertFile,
			KeyFile:  kp.KeyFile,
		},
		QPS:   -1,
		Burst: -1,
	}
}

func waitFor(ctx context.Context, p *Process, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited (%v):\n%s", p.Name, err, p.LogTail(4000))
		}
		if ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s:\n%s", p.Name, timeout, p.LogTail(4000))
}

// WriteKubeconfig writes a kubeconfig for the server that authenticates with
// kp, as kubectl users would have one.
func (s *APIServer) WriteKubeconfig(path string, kp KeyPair) error {
	config := clientcmdapi.NewConfig()
	config.Clusters["test"] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthority: s.pki.CAFile}
	config.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificate: kp.CertFile, ClientKey: kp.KeyFile}
	config.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	config.CurrentContext = "test"
	return clientcmd.WriteToFile(*config, path)
}

// Pid is the process id.
func (p *Process) Pid() int {
	return p.cmd.Process.Pid
}
