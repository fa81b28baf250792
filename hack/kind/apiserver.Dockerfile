# Upstream's kube-apiserver image with this project's binary in its place.
ARG BASE_IMAGE=registry.k8s.io/kube-apiserver:v1.37.2
FROM ${BASE_IMAGE}
COPY kube-apiserver /usr/local/bin/kube-apiserver
