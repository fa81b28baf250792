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

// podnet is the pod network of the kind node image built here, doing the job
// of kind's kindnetd, whose source is not published as a Go module and whose
// image cannot be pulled here. It runs as kind's default CNI DaemonSet (host
// network, HOST_IP from the downward API) and, on each node:
//   - writes /etc/cni/net.d/10-kindnet.conflist: the CNI ptp plugin with
//     host-local addresses from the node's podCIDRs, and portmap;
//   - routes every other node's podCIDRs through that node's InternalIP.
//
// Pods get no masquerade to the outside: the clusters of this project send
// nothing beyond their own networks.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// network writes a node's CNI configuration and routes to the other nodes.
type network struct {
	hostIP   string
	confFile string
	// route sends cidr through the node at via.
	route func(cidr, via string) error
}

func ipRoute(cidr, via string) error {
	if out, err := exec.Command("ip", "route", "replace", cidr, "via", via).CombinedOutput(); err != nil {
		return fmt.Errorf("ip route replace %s via %s: %v: %s", cidr, via, err, out)
	}
	return nil
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	if hostIP == "" {
		log.Fatal("HOST_IP is not set")
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(config)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	nodes := factory.Core().V1().Nodes()
	changed := make(chan struct{}, 1)
	notify := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, n any) { notify(n) },
		DeleteFunc: notify,
	}); err != nil {
		log.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	net := network{hostIP: hostIP, confFile: "/etc/cni/net.d/10-kindnet.conflist", route: ipRoute}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		list, err := nodes.Lister().List(labels.Everything())
		if err == nil {
			err = net.reconcile(list)
		}
		if err != nil {
			log.Print(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

func internalIP(node *v1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func podCIDRs(node *v1.Node) []string {
	if len(node.Spec.PodCIDRs) > 0 {
		return node.Spec.PodCIDRs
	}
	if node.Spec.PodCIDR != "" {
		return []string{node.Spec.PodCIDR}
	}
	return nil
}

// reconcile writes this node's CNI configuration once it has a podCIDR and
// routes the other nodes' podCIDRs through them.
func (n network) reconcile(nodes []*v1.Node) error {
	var self *v1.Node
	for _, node := range nodes {
		ip := internalIP(node)
		if ip == n.hostIP {
			self = node
			continue
		}
		if ip == "" {
			continue
		}
		for _, cidr := range podCIDRs(node) {
			if err := n.route(cidr, ip); err != nil {
				return fmt.Errorf("node %s: %w", node.Name, err)
			}
		}
	}
	if self == nil {
		return fmt.Errorf("no node has InternalIP %s yet", n.hostIP)
	}
	cidrs := podCIDRs(self)
	if len(cidrs) == 0 {
		return fmt.Errorf("node %s has no podCIDR yet", self.Name)
	}
	return n.writeConfig(cidrs)
}

func (n network) writeConfig(cidrs []string) error {
	var ranges [][]map[string]string
	for _, cidr := range cidrs {
		ranges = append(ranges, []map[string]string{{"subnet": cidr}})
	}
	conf, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": ranges,
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(n.confFile); err == nil && string(old) == string(conf) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(n.confFile), "."+filepath.Base(n.confFile)+".tmp")
	if err := os.WriteFile(tmp, conf, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, n.confFile); err != nil {
		return err
	}
	log.Printf("wrote %s for %v", n.confFile, cidrs)
	return nil
}
