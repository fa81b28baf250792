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

package controlplane

import (
	"context"
	"fmt"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/reconciliation"

	"github.com/kube-checkpoint/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

// checkpointRBACHookName names the post-start hook (and its /readyz check)
// that reconciles the checkpoint's bootstrap roles.
const checkpointRBACHookName = "rbac/bootstrap-checkpoint-roles"

// reconcileCheckpointRBAC adds the checkpoint's bootstrap cluster roles the
// way upstream's rbac/bootstrap-roles hook does: missing roles are created and
// missing rules added, and nothing an operator added is removed.
func reconcileCheckpointRBAC(hookContext genericapiserver.PostStartHookContext) error {
	client, err := rbacv1client.NewForConfig(hookContext.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("unable to initialize client: %w", err)
	}
	return wait.PollUntilContextTimeout(hookContext, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, role := range bootstrappolicy.ClusterRoles() {
			request := reconciliation.ReconcileRoleOptions{
				Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: &role},
				Client:  reconciliation.ClusterRoleModifier{Client: client.ClusterRoles()},
				Confirm: true,
			}
			if _, err := request.Run(); err != nil {
				// Upstream's hook may be updating the same role; try again.
				utilruntime.HandleError(fmt.Errorf("unable to reconcile clusterrole %s: %w", role.Name, err))
				return false, nil
			}
		}
		return true, nil
	})
}
