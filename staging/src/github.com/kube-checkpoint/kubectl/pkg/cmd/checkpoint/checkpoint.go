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

// Package checkpoint is the kubectl command that checkpoints running
// containers through the pods/checkpoint subresource (KEP-5091). It serves as
// "kubectl alpha checkpoint" and as the kubectl-checkpoint plugin.
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/cmd/util/podcmd"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/kubectl/pkg/scheme"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	checkpointscheme "github.com/kube-checkpoint/client-go/kubernetes/scheme"
	checkpointclient "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/client-go/util/checkpointable"
)

// CheckpointerClusterRole is the ClusterRole that grants checkpoints.
const CheckpointerClusterRole = "system:pod-checkpointer"

var (
	checkpointLong = templates.LongDesc(i18n.T(`
		Checkpoint running containers of a pod.

		The pod's kubelet writes a CRIU checkpoint archive of each container on its
		node, readable by root only; the container keeps running. The command prints
		where each archive was written. The API server must serve the pods/checkpoint
		subresource (kube-apiserver --feature-gates=ContainerCheckpointAPI=true), the
		caller needs "create" on pods/checkpoint (ClusterRole system:pod-checkpointer),
		and the nodes need a container runtime with CRIU 4.2 or newer.

		Use "kubectl checkpoint" (the kubectl-checkpoint plugin) or "kubectl alpha
		checkpoint" (this project's kubectl).`))

	checkpointExample = templates.Examples(i18n.T(`
		# Checkpoint the default container of pod mypod
		kubectl alpha checkpoint mypod

		# Checkpoint container app of pod mypod, allowing it five minutes
		kubectl alpha checkpoint mypod -c app --timeout=5m

		# Checkpoint every running container of pod mypod
		kubectl alpha checkpoint mypod --all-containers

		# Checkpoint the default container of a pod of deployment mydeployment
		kubectl alpha checkpoint deploy/mydeployment

		# Checkpoint the default container of every pod labelled app=jupyter, as JSON
		kubectl alpha checkpoint -l app=jupyter -o json`))
)

// CheckpointOptions are the options of the checkpoint command.
type CheckpointOptions struct {
	ResourceName  string
	ContainerName string
	AllContainers bool
	Selector      string
	Timeout       time.Duration
	Quiet         bool

	// PrintFlags are kubectl's -o flags; with no -o each result is printed
	// as a summary in the format of KEP-5091.
	PrintFlags *genericclioptions.PrintFlags
	// printer is nil for the summary.
	printer printers.ResourcePrinter

	Namespace string

	Builder          func() *resource.Builder
	RESTClientGetter genericclioptions.RESTClientGetter
	CheckpointClient checkpointclient.PodsGetter
	PodForObjectFn   polymorphichelpers.AttachablePodForObjectFunc
	GetPodTimeout    time.Duration

	genericiooptions.IOStreams
}

// NewCheckpointOptions returns the options with their defaults.
func NewCheckpointOptions(streams genericiooptions.IOStreams) *CheckpointOptions {
	return &CheckpointOptions{
		PrintFlags: genericclioptions.NewPrintFlags("checkpointed").WithTypeSetter(checkpointscheme.Scheme),
		IOStreams:  streams,
	}
}

// NewCmdCheckpoint returns the checkpoint command.
func NewCmdCheckpoint(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCheckpoint(f, NewCheckpointOptions(streams))
}

func newCmdCheckpoint(f cmdutil.Factory, o *CheckpointOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   "checkpoint (POD | TYPE/NAME | -l SELECTOR) [-c CONTAINER | --all-containers]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Checkpoint running containers of a pod"),
		Long:                  checkpointLong,
		Example:               checkpointExample,
		ValidArgsFunction:     completion.PodResourceNameCompletionFunc(f),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmdutil.AddPodRunningTimeoutFlag(cmd, 20*time.Second)
	cmd.Flags().StringVarP(&o.ContainerName, "container", "c", o.ContainerName, "Container to checkpoint. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be checkpointed, or the first container in the pod will be chosen")
	cmdutil.CheckErr(cmd.RegisterFlagCompletionFunc("container", completion.ContainerCompletionFunc(f)))
	cmd.Flags().BoolVar(&o.AllContainers, "all-containers", o.AllContainers, "Checkpoint every running container of the pod (its containers and restartable init containers)")
	cmdutil.AddLabelSelectorFlagVar(cmd, &o.Selector)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long each checkpoint may take (whole seconds, e.g. 90s or 5m). Zero means the API server's default (kube-apiserver --checkpoint-default-timeout)")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", o.Quiet, "Do not print the notice when a default container is chosen")
	return cmd
}

// Complete fills the options from the factory and the arguments.
func (o *CheckpointOptions) Complete(f cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return cmdutil.UsageErrorf(cmd, "checkpoint takes at most one POD or TYPE/NAME, got %d", len(args))
	}
	if len(args) == 1 {
		o.ResourceName = args[0]
	}
	var err error
	if o.Namespace, _, err = f.ToRawKubeConfigLoader().Namespace(); err != nil {
		return err
	}
	if o.GetPodTimeout, err = cmdutil.GetPodRunningTimeoutFlag(cmd); err != nil {
		return cmdutil.UsageErrorf(cmd, "%s", err.Error())
	}
	if o.PrintFlags.OutputFlagSpecified() {
		if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
			return err
		}
	}
	o.Builder = f.NewBuilder
	o.RESTClientGetter = f
	o.PodForObjectFn = polymorphichelpers.AttachablePodForObjectFn
	if o.CheckpointClient == nil {
		config, err := f.ToRESTConfig()
		if err != nil {
			return err
		}
		client, err := checkpointclient.NewForConfig(config)
		if err != nil {
			return err
		}
		o.CheckpointClient = client
	}
	return nil
}

// Validate checks the options.
func (o *CheckpointOptions) Validate() error {
	switch {
	case o.ResourceName == "" && o.Selector == "":
		return errors.New("a pod (POD or TYPE/NAME) or a selector (-l) is required")
	case o.ResourceName != "" && o.Selector != "":
		return errors.New("a pod and a selector (-l) cannot both be given")
	case o.ContainerName != "" && o.AllContainers:
		return errors.New("--container (-c) and --all-containers cannot both be given")
	case o.Timeout < 0:
		return fmt.Errorf("--timeout must not be negative, got %s", o.Timeout)
	case o.Timeout%time.Second != 0:
		return fmt.Errorf("--timeout must be a whole number of seconds, got %s", o.Timeout)
	}
	return nil
}

// target is one container to checkpoint.
type target struct {
	pod       *corev1.Pod
	container string
}

// Run checkpoints every target, prints each result, and reports every
// failure; it fails when any checkpoint failed.
func (o *CheckpointOptions) Run(ctx context.Context) error {
	pods, err := o.pods()
	if err != nil {
		return err
	}
	var targets []target
	var errs []error
	for _, pod := range pods {
		containers, err := o.containers(pod)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range containers {
			targets = append(targets, target{pod: pod, container: c})
		}
	}
	opts := &checkpointv1.PodCheckpointOptions{}
	if o.Timeout > 0 {
		seconds := int64(o.Timeout / time.Second)
		opts.TimeoutSeconds = &seconds
	}
	var results []*checkpointv1.PodCheckpointResult
	for _, t := range targets {
		opts.Container = t.container
		result, err := o.CheckpointClient.Pods(t.pod.Namespace).Checkpoint(ctx, t.pod.Name, opts)
		if err != nil {
			errs = append(errs, o.explain(t, err))
			continue
		}
		result.GetObjectKind().SetGroupVersionKind(checkpointv1.SchemeGroupVersion.WithKind("PodCheckpointResult"))
		results = append(results, result)
		if err := o.printAsTaken(result, len(results)); err != nil {
			return err
		}
	}
	if err := o.printAll(results); err != nil {
		return err
	}
	for _, err := range errs[:max(0, len(errs)-1)] {
		// kubectl prints the last error itself, as "error: ..."
		fmt.Fprintf(o.ErrOut, "error: %v\n", err) //nolint:errcheck
	}
	if len(errs) > 0 {
		return errs[len(errs)-1]
	}
	return nil
}

// pods resolves the command's argument or selector to pods through one
// builder chain: POD, TYPE/NAME (one of its pods, as kubectl exec picks it)
// or every pod a selector matches.
func (o *CheckpointOptions) pods() ([]*corev1.Pod, error) {
	b := o.Builder().
		WithScheme(scheme.Scheme, scheme.Scheme.PrioritizedVersionsAllGroups()...).
		NamespaceParam(o.Namespace).DefaultNamespace()
	if o.Selector != "" {
		b = b.ResourceTypes("pods").LabelSelectorParam(o.Selector)
	} else {
		b = b.ResourceNames("pods", o.ResourceName)
	}
	infos, err := b.Flatten().Do().Infos()
	if err != nil {
		return nil, o.explainPodAccess(err)
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("no pods in namespace %s match the selector %q", o.Namespace, o.Selector)
	}
	pods := make([]*corev1.Pod, 0, len(infos))
	for _, info := range infos {
		pod, ok := info.Object.(*corev1.Pod)
		if !ok {
			if pod, err = o.PodForObjectFn(o.RESTClientGetter, info.Object, o.GetPodTimeout); err != nil {
				return nil, err
			}
		}
		pods = append(pods, pod)
	}
	return pods, nil
}

// containers picks the containers of pod to checkpoint, defaulting exactly
// as kubectl exec does.
func (o *CheckpointOptions) containers(pod *corev1.Pod) ([]string, error) {
	if !o.AllContainers {
		container, err := podcmd.FindOrDefaultContainerByName(pod, o.ContainerName, o.Quiet, o.ErrOut)
		if err != nil {
			return nil, err
		}
		return []string{container.Name}, nil
	}
	names := checkpointable.Containers(pod)
	if len(names) == 0 {
		return nil, fmt.Errorf("pod %s/%s has no running container to checkpoint", pod.Namespace, pod.Name)
	}
	return names, nil
}

// explain turns a refused checkpoint into an error the user can act on.
func (o *CheckpointOptions) explain(t target, err error) error {
	what := fmt.Sprintf("cannot checkpoint container %s of pod %s/%s", t.container, t.pod.Namespace, t.pod.Name)
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	s := status.Status()
	switch {
	case s.Code == http.StatusNotFound && (s.Details == nil || s.Details.Kind != "pods"):
		return fmt.Errorf("%s: the server does not serve pods/checkpoint: it needs kube-checkpoint's kube-apiserver started with --feature-gates=ContainerCheckpointAPI=true", what)
	case s.Code == http.StatusForbidden:
		return fmt.Errorf("%s: %s\nto be allowed, bind the ClusterRole %s, for example: kubectl create rolebinding checkpointers -n %s --clusterrole=%s --user=<you>",
			what, s.Message, CheckpointerClusterRole, t.pod.Namespace, CheckpointerClusterRole)
	default:
		return fmt.Errorf("%s: %s", what, s.Message)
	}
}

func (o *CheckpointOptions) explainPodAccess(err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%v\nto be allowed, bind the ClusterRole %s, for example: kubectl create rolebinding checkpointers -n %s --clusterrole=%s --user=<you>",
			err, CheckpointerClusterRole, o.Namespace, CheckpointerClusterRole)
	}
	return err
}

// severalResults tells whether the command may checkpoint several
// containers, whose results then print as one List, as kubectl get prints
// what a selector matched, however many there were.
func (o *CheckpointOptions) severalResults() bool {
	return o.Selector != "" || o.AllContainers
}

// printAsTaken prints what is printed as soon as a checkpoint is taken: the
// summary, or a name.
func (o *CheckpointOptions) printAsTaken(result *checkpointv1.PodCheckpointResult, n int) error {
	switch {
	case o.printer == nil:
		return printSummary(o.Out, result, n > 1)
	case *o.PrintFlags.OutputFormat == "name":
		// A result has no name of its own: name the pod that was checkpointed.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: result.PodName, Namespace: result.Namespace}}
		pod.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		return o.printer.PrintObj(pod, o.Out)
	}
	return nil
}

// printAll prints the results with the -o printer once all were taken: one
// object, or one List of them.
func (o *CheckpointOptions) printAll(results []*checkpointv1.PodCheckpointResult) error {
	if o.printer == nil || *o.PrintFlags.OutputFormat == "name" {
		return nil
	}
	if !o.severalResults() {
		if len(results) == 0 {
			return nil
		}
		return o.printer.PrintObj(results[0], o.Out)
	}
	list := &corev1.List{TypeMeta: metav1.TypeMeta{Kind: "List", APIVersion: "v1"}}
	for _, r := range results {
		list.Items = append(list.Items, runtime.RawExtension{Object: r})
	}
	return o.printer.PrintObj(list, o.Out)
}

// printSummary prints a result in the format of KEP-5091.
func printSummary(out io.Writer, r *checkpointv1.PodCheckpointResult, separate bool) error {
	if separate {
		fmt.Fprintln(out) //nolint:errcheck
	}
	node := r.NodeName
	if r.HostIP != "" {
		node += "/" + r.HostIP
	}
	w := tabwriter.NewWriter(out, 0, 8, 4, ' ', 0)
	fmt.Fprintf(w, "Node:\t%s\n", node)             //nolint:errcheck
	fmt.Fprintf(w, "Namespace:\t%s\n", r.Namespace) //nolint:errcheck
	fmt.Fprintf(w, "Pod:\t%s\n", r.PodName)         //nolint:errcheck
	fmt.Fprintf(w, "Container:\t%s\n", r.ContainerName)
	for _, archive := range r.ArchivePaths {
		fmt.Fprintf(w, "Checkpoint Archive:\t%s\n", archive) //nolint:errcheck
	}
	return w.Flush()
}

// PluginExamples rewrites the examples for the kubectl-checkpoint plugin.
func PluginExamples(examples string) string {
	return strings.ReplaceAll(examples, "kubectl alpha checkpoint", "kubectl checkpoint")
}
