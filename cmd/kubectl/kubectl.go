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

// The kubectl of kube-checkpoint: upstream kubectl v1.37.2 with
// "kubectl alpha checkpoint".
package main

import (
	"os"

	"github.com/spf13/cobra"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	"k8s.io/kubectl/pkg/cmd/util"

	"github.com/kube-checkpoint/kubectl/pkg/cmd/checkpoint"
)

// main mirrors k8s.io/kubernetes/cmd/kubectl (v1.37.2) and
// cmd.NewDefaultKubectlCommand, keeping the config flags so that "alpha
// checkpoint" shares the root command's kubeconfig, context and namespace.
func main() {
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	configFlags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams)
	command := cmd.NewDefaultKubectlCommandWithArgs(cmd.KubectlOptions{
		PluginHandler: cmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     os.Args,
		ConfigFlags:   configFlags,
		IOStreams:     streams,
	})
	addAlphaCheckpoint(command, util.NewFactory(util.NewMatchVersionFlags(configFlags)), streams)
	if err := cli.RunNoErrOutput(command); err != nil {
		// Pretty-print the error and exit with an error.
		util.CheckErr(err)
	}
}

func addAlphaCheckpoint(root *cobra.Command, f util.Factory, streams genericiooptions.IOStreams) {
	for _, c := range root.Commands() {
		if c.Name() == "alpha" {
			c.AddCommand(checkpoint.NewCmdCheckpoint(f, streams))
			// Upstream's alpha has no commands in v1.37 and answers help with
			// "No alpha commands are available"; it has one now.
			c.SetHelpFunc(nil)
			return
		}
	}
	panic("upstream kubectl has no alpha command")
}
