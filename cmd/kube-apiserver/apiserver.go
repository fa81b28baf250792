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

// The kube-apiserver of kube-checkpoint: upstream kube-apiserver v1.37.2 with
// the pods/checkpoint subresource behind --feature-gates=ContainerCheckpointAPI=true.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration

	"github.com/kube-checkpoint/kubernetes/pkg/controlplane"
	_ "github.com/kube-checkpoint/kubernetes/pkg/features" // the ContainerCheckpointAPI gate
)

func main() {
	command := controlplane.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
