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

// Package v1 is the typed client of the pods/checkpoint subresource:
//
//	client, err := v1.NewForConfig(restConfig)
//	result, err := client.Pods("default").Checkpoint(ctx, "my-pod", &checkpointv1.PodCheckpointOptions{Container: "app"})
//
// Errors are *apierrors.StatusError, so apierrors.IsNotFound, IsForbidden and
// friends work as with client-go.
package v1

import (
	"net/http"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/scheme"
)

// CoreV1Interface reaches the checkpoint subresource of the core group.
type CoreV1Interface interface {
	RESTClient() rest.Interface
	PodsGetter
}

// CoreV1Client is used to interact with the checkpoint subresource.
type CoreV1Client struct {
	restClient rest.Interface
}

var _ CoreV1Interface = &CoreV1Client{}

// Pods returns the checkpoint operations on the pods of namespace.
func (c *CoreV1Client) Pods(namespace string) PodInterface {
	return newPods(c, namespace)
}

// NewForConfig creates a new CoreV1Client for the given config.
func NewForConfig(c *rest.Config) (*CoreV1Client, error) {
	config := *c
	setConfigDefaults(&config)
	httpClient, err := rest.HTTPClientFor(&config)
	if err != nil {
		return nil, err
	}
	return NewForConfigAndClient(&config, httpClient)
}

// NewForConfigAndClient creates a new CoreV1Client for the given config and
// http client.
func NewForConfigAndClient(c *rest.Config, h *http.Client) (*CoreV1Client, error) {
	config := *c
	setConfigDefaults(&config)
	client, err := rest.RESTClientForConfigAndClient(&config, h)
	if err != nil {
		return nil, err
	}
	return &CoreV1Client{client}, nil
}

// NewForConfigOrDie creates a new CoreV1Client for the given config and
// panics if there is an error in the config.
func NewForConfigOrDie(c *rest.Config) *CoreV1Client {
	client, err := NewForConfig(c)
	if err != nil {
		panic(err)
	}
	return client
}

// New creates a new CoreV1Client on an existing REST client of the core
// group, such as clientset.CoreV1().RESTClient().
func New(c rest.Interface) *CoreV1Client {
	return &CoreV1Client{c}
}

// NewForClientset creates a new CoreV1Client that shares the connection of
// an existing client-go clientset.
func NewForClientset(clientset kubernetes.Interface) *CoreV1Client {
	return New(clientset.CoreV1().RESTClient())
}

func setConfigDefaults(config *rest.Config) {
	gv := checkpointv1.SchemeGroupVersion
	config.GroupVersion = &gv
	config.APIPath = "/api"
	// JSON unless the config asks for protobuf (or CBOR), as client-go's
	// generated clients do: the checkpoint types have every encoding.
	config.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion()
	if config.UserAgent == "" {
		config.UserAgent = rest.DefaultKubernetesUserAgent()
	}
}

// RESTClient returns a RESTClient that is used to communicate with the API
// server by this client implementation.
func (c *CoreV1Client) RESTClient() rest.Interface {
	if c == nil {
		return nil
	}
	return c.restClient
}
