//! skylark-e2e: a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, our node agent) for end-to-end tests.
