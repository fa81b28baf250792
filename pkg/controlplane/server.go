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

// Package controlplane is the one seam between upstream kube-apiserver
// v1.37.2 and the checkpoint subresource. Upstream offers no way for a main to
// add a subresource to the core group, so the few functions on the path from
// the command to the core group's storage are re-composed here, each from its
// upstream counterpart (named in its comment); everything else is upstream's,
// called as it is. The discovery and OpenAPI comparison in test/integration
// fails when an upstream bump changes what these functions mirror.
package controlplane

import (
	"context"
	"fmt"
	"os"
	_ "unsafe" // go:linkname of apiVersionPriorities

	"github.com/spf13/cobra"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/flagz"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/notfoundhandler"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/cli/globalflag"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/component-base/featuregate"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/component-base/term"
	utilversion "k8s.io/component-base/version"
	"k8s.io/component-base/version/verflag"
	"k8s.io/klog/v2"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"

	_ "github.com/kube-checkpoint/kubernetes/pkg/apis/core/install"
	"github.com/kube-checkpoint/kubernetes/pkg/features"
)

// apiVersionPriorities is upstream's table of aggregated discovery priorities
// (cmd/kube-apiserver/app/aggregator.go). It is unexported; linking to it keeps
// the table upstream's own instead of a copy that would drift.
//
//go:linkname apiVersionPriorities k8s.io/kubernetes/cmd/kube-apiserver/app.apiVersionPriorities
var apiVersionPriorities map[schema.GroupVersion]controlplaneapiserver.APIServicePriority

// NewAPIServerCommand mirrors app.NewAPIServerCommand (v1.37.2), adding the
// "checkpoint" flag set and running Run below.
func NewAPIServerCommand() *cobra.Command {
	s := options.NewServerRunOptions()
	checkpoint := NewCheckpointOptions()
	ctx := genericapiserver.SetupSignalContext()
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)

	cmd := &cobra.Command{
		Use: "kube-apiserver",
		Long: `The Kubernetes API server validates and configures data
for the api objects which include pods, services, replicationcontrollers, and
others. The API Server services REST operations and provides the frontend to the
cluster's shared state through which all other components interact.

This kube-apiserver can also checkpoint containers through the pods/checkpoint
subresource (KEP-5091): --feature-gates=ContainerCheckpointAPI=true.`,

		// stop printing usage when the command errors
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
				return err
			}
			// silence client-go warnings.
			// kube-apiserver loopback clients should not log self-issued warnings.
			rest.SetDefaultWarningHandler(rest.NoWarnings{})
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			verflag.PrintAndExitIfRequested()
			fs := cmd.Flags()
			// Activate logging as soon as possible, after that
			// show flags with the final logging configuration.
			if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
				return err
			}
			cliflag.PrintFlags(fs)

			// set default options
			completedOptions, err := s.Complete(ctx)
			if err != nil {
				return err
			}

			// validate options
			errs := completedOptions.Validate()
			errs = append(errs, checkpoint.Validate()...)
			if len(errs) != 0 {
				return utilerrors.NewAggregate(errs)
			}
			// add feature enablement metrics
			featureGate.(featuregate.MutableFeatureGate).AddMetrics()
			// add component version metrics
			s.GenericServerRunOptions.ComponentGlobalsRegistry.AddMetrics()
			return Run(ctx, completedOptions, checkpoint)
		},
		Args: func(cmd *cobra.Command, args []string) error {
			for _, arg := range args {
				if len(arg) > 0 {
					return fmt.Errorf("%q does not take any arguments, got %q", cmd.CommandPath(), args)
				}
			}
			return nil
		},
	}
	cmd.SetContext(ctx)

	fs := cmd.Flags()
	namedFlagSets := s.Flags()
	checkpoint.AddFlags(namedFlagSets.FlagSet("checkpoint"))
	s.Flagz = flagz.NamedFlagSetsReader{
		FlagSets: namedFlagSets,
	}
	verflag.AddFlags(namedFlagSets.FlagSet("global"))
	globalflag.AddGlobalFlags(namedFlagSets.FlagSet("global"), cmd.Name(), logs.SkipLoggingConfigurationFlags())
	for _, f := range namedFlagSets.FlagSets {
		fs.AddFlagSet(f)
	}

	cols, _, _ := term.TerminalSize(cmd.OutOrStdout())
	cliflag.SetUsageAndHelpFunc(cmd, namedFlagSets, cols)

	return cmd
}

// Run mirrors app.Run (v1.37.2): it builds upstream's config, prepares it for
// pods/checkpoint when the gate is on, and runs the server chain below.
func Run(ctx context.Context, opts options.CompletedOptions, checkpoint *CheckpointOptions) error {
	// To help debugging, immediately log version
	klog.Infof("Version: %+v", utilversion.Get())

	klog.InfoS("Golang settings", "GOGC", os.Getenv("GOGC"), "GOMAXPROCS", os.Getenv("GOMAXPROCS"), "GOTRACEBACK", os.Getenv("GOTRACEBACK"))

	if opts.InformerName == nil {
		informerName, err := cache.NewInformerName("kube-apiserver")
		if err != nil {
			return err
		}
		opts.InformerName = informerName
	}

	config, err := app.NewConfig(opts)
	if err != nil {
		return err
	}
	if !checkpointEnabled() {
		checkpoint = nil
	} else {
		addCheckpointToConfig(config)
	}
	completed, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := CreateServerChain(completed, checkpoint)
	if err != nil {
		return err
	}

	prepared, err := server.PrepareRun()
	if err != nil {
		return err
	}

	return prepared.Run(ctx)
}

// CreateServerChain mirrors app.CreateServerChain (v1.37.2); the kube API
// server in the middle of the chain comes from New below. A nil checkpoint
// builds exactly upstream's chain.
func CreateServerChain(config app.CompletedConfig, checkpoint *CheckpointOptions) (*aggregatorapiserver.APIAggregator, error) {
	if err := checkLinkedPriorities(apiVersionPriorities); err != nil {
		return nil, err
	}
	notFoundHandler := notfoundhandler.New(config.KubeAPIs.ControlPlane.Generic.Serializer, genericapifilters.NoMuxAndDiscoveryIncompleteKey)
	apiExtensionsServer, err := config.ApiExtensions.New(genericapiserver.NewEmptyDelegateWithCustomHandler(notFoundHandler))
	if err != nil {
		return nil, err
	}
	crdAPIEnabled := config.ApiExtensions.GenericConfig.MergedResourceConfig.ResourceEnabled(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))

	kubeAPIServer, err := New(config.KubeAPIs, apiExtensionsServer.GenericAPIServer, checkpoint)
	if err != nil {
		return nil, err
	}

	// aggregator comes last in the chain
	aggregatorServer, err := controlplaneapiserver.CreateAggregatorServer(config.Aggregator, kubeAPIServer.ControlPlane.GenericAPIServer, apiExtensionsServer.Informers.Apiextensions().V1().CustomResourceDefinitions(), crdAPIEnabled, apiVersionPriorities)
	if err != nil {
		// we don't need special handling for innerStopCh because the aggregator server doesn't create any go routines
		return nil, err
	}

	return aggregatorServer, nil
}

// checkLinkedPriorities fails loudly when the go:linkname above no longer
// reaches upstream's table (renamed or moved upstream): it would then be an
// empty map, and every group would silently lose its discovery priority.
func checkLinkedPriorities(priorities map[schema.GroupVersion]controlplaneapiserver.APIServicePriority) error {
	if _, ok := priorities[schema.GroupVersion{Version: "v1"}]; !ok {
		return fmt.Errorf("the aggregated discovery priorities linked from k8s.io/kubernetes/cmd/kube-apiserver/app.apiVersionPriorities lack core/v1 (%d entries): upstream renamed or moved the table, update pkg/controlplane/server.go", len(priorities))
	}
	return nil
}

func checkpointEnabled() bool {
	return utilfeature.DefaultFeatureGate.Enabled(features.ContainerCheckpointAPI)
}
