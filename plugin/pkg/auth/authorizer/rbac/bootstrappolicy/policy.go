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

// Package bootstrappolicy holds the RBAC defaults that the checkpoint
// subresource adds to those of
// k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy.
package bootstrappolicy

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1helpers "k8s.io/kubernetes/pkg/apis/rbac/v1"
	upstreampolicy "k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

const (
	// CheckpointerClusterRoleName may checkpoint the containers of any pod it
	// is bound for. It is not aggregated into view, edit or admin: an archive
	// holds all of a container's memory, its secrets included.
	CheckpointerClusterRoleName = "system:pod-checkpointer"

	// KubeletAPIAdminClusterRoleName is the role that kubeadm-style clusters
	// bind to the apiserver's kubelet client identity.
	KubeletAPIAdminClusterRoleName = "system:kubelet-api-admin"

	legacyGroup = ""
)

// NodesCheckpointRule lets the apiserver call a kubelet's checkpoint endpoint
// when the kubelet authorizes through the API (Webhook mode).
var NodesCheckpointRule = rbacv1helpers.NewRule("create").Groups(legacyGroup).Resources("nodes/checkpoint").RuleOrDie()

// ClusterRoles returns the cluster roles that serving pods/checkpoint needs:
// the dedicated checkpointer role, and system:kubelet-api-admin as upstream
// defines it plus NodesCheckpointRule.
func ClusterRoles() []rbacv1.ClusterRole {
	roles := []rbacv1.ClusterRole{{
		ObjectMeta: metav1.ObjectMeta{Name: CheckpointerClusterRoleName},
		Rules: []rbacv1.PolicyRule{
			// get resolves a pod's default container; list serves selectors.
			rbacv1helpers.NewRule("get", "list").Groups(legacyGroup).Resources("pods").RuleOrDie(),
			rbacv1helpers.NewRule("create").Groups(legacyGroup).Resources("pods/checkpoint").RuleOrDie(),
		},
	}}
	for _, role := range upstreampolicy.ClusterRoles() {
		if role.Name == KubeletAPIAdminClusterRoleName {
			role.Rules = append(role.Rules, NodesCheckpointRule)
			roles = append(roles, role)
		}
	}
	for i := range roles {
		// The labels and annotation of every bootstrap role, so that the
		// reconciler keeps them up to date like upstream's.
		if roles[i].Labels == nil {
			roles[i].Labels = map[string]string{}
		}
		roles[i].Labels["kubernetes.io/bootstrapping"] = "rbac-defaults"
		if roles[i].Annotations == nil {
			roles[i].Annotations = map[string]string{}
		}
		roles[i].Annotations[rbacv1.AutoUpdateAnnotationKey] = "true"
	}
	return roles
}
