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

// kubectl-checkpoint is the kubectl plugin "kubectl checkpoint": put it on
// PATH and any kubectl runs it.
package main

import (
	"os"

	"github.com/spf13/pflag"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/kube-checkpoint/kubectl/pkg/cmd/checkpoint"
)

func main() {
	flags := pflag.NewFlagSet("kubectl-checkpoint", pflag.ExitOnError)
	pflag.CommandLine = flags

	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	configFlags := genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams)
	matchVersionFlags := cmdutil.NewMatchVersionFlags(configFlags)
	cmd := checkpoint.NewCmdCheckpoint(cmdutil.NewFactory(matchVersionFlags), streams)
	cmd.Use = "kubectl-checkpoint (POD | TYPE/NAME | -l SELECTOR) [-c CONTAINER | --all-containers]"
	cmd.Example = checkpoint.PluginExamples(cmd.Example)
	configFlags.AddFlags(cmd.PersistentFlags())
	matchVersionFlags.AddFlags(cmd.PersistentFlags())

	if err := cli.RunNoErrOutput(cmd); err != nil {
		// Pretty-print the error and exit with an error, as kubectl does.
		cmdutil.CheckErr(err)
	}
}
