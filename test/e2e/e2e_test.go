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

// Package e2e checkpoints real containers through a real cluster's
// pods/checkpoint subresource: any cluster a kubeconfig reaches whose
// apiserver is kube-checkpoint's with ContainerCheckpointAPI on and whose
// nodes run CRIU >= 4.2 (make local-up here, hack/kind-up.sh elsewhere).
//
//	go test ./test/e2e -args --kubeconfig=... [--kube-checkpoint-bin=_output/bin] [--test-image=...]
package e2e

import (
	"flag"
	"os"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"k8s.io/kubernetes/test/e2e/framework"
)

var (
	binDir          = flag.String("kube-checkpoint-bin", "../../_output/bin", "directory holding this project's kubectl and kubectl-checkpoint")
	testImage       = flag.String("test-image", "kube-checkpoint.local/counter:v1", "the counter image of test/images, present on every node")
	imagePullPolicy = flag.String("image-pull-policy", "Never", "pull policy of the test pods: Never where the image was imported on the nodes")
)

func TestMain(m *testing.M) {
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
	framework.AfterReadingAllFlags(&framework.TestContext)
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	gomega.RegisterFailHandler(framework.Fail)
	ginkgo.RunSpecs(t, "kube-checkpoint e2e")
}
