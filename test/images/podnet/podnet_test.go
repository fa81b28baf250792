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

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, ip string, cidrs ...string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1.NodeSpec{PodCIDRs: cidrs},
		Status:     v1.NodeStatus{Addresses: []v1.NodeAddress{{Type: v1.NodeHostName, Address: name}, {Type: v1.NodeInternalIP, Address: ip}}},
	}
}

func TestReconcile(t *testing.T) {
	dir := t.TempDir()
	routes := map[string]string{}
	n := network{hostIP: "172.18.0.3", confFile: filepath.Join(dir, "10-kindnet.conflist"), route: func(cidr, via string) error {
		routes[cidr] = via
		return nil
	}}

	// Before the node has its podCIDR: no configuration, and the error says why.
	err := n.reconcile([]*v1.Node{node("cp", "172.18.0.2", "10.244.0.0/24"), node("worker", "172.18.0.3")})
	if err == nil || err.Error() != "node worker has no podCIDR yet" {
		t.Fatalf("reconcile without a podCIDR: %v", err)
	}
	if _, err := os.Stat(n.confFile); !os.IsNotExist(err) {
		t.Fatalf("a configuration was written before the node had a podCIDR: %v", err)
	}
	if err := n.reconcile([]*v1.Node{node("cp", "172.18.0.2")}); err == nil || err.Error() != "no node has InternalIP 172.18.0.3 yet" {
		t.Fatalf("reconcile without this node: %v", err)
	}

	if err := n.reconcile([]*v1.Node{node("cp", "172.18.0.2", "10.244.0.0/24"), node("worker", "172.18.0.3", "10.244.1.0/24")}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"10.244.0.0/24": "172.18.0.2"}; !reflect.DeepEqual(routes, want) {
		t.Errorf("routes %v, want %v (the other node's podCIDR through it, none for this node's own)", routes, want)
	}
	raw, err := os.ReadFile(n.confFile)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type string `json:"type"`
			IPAM struct {
				Type   string                `json:"type"`
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &conf); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if conf.Name != "kindnet" || len(conf.Plugins) != 2 || conf.Plugins[0].Type != "ptp" || conf.Plugins[1].Type != "portmap" {
		t.Fatalf("configuration %s: want the ptp and portmap plugins of network kindnet", raw)
	}
	if got := conf.Plugins[0].IPAM; got.Type != "host-local" || !reflect.DeepEqual(got.Ranges, [][]map[string]string{{{"subnet": "10.244.1.0/24"}}}) {
		t.Errorf("ipam %+v: want host-local addresses from this node's podCIDR 10.244.1.0/24", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files in the CNI directory: %v, want the configuration alone", entries)
	}
}
