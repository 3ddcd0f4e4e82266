module kubeproof.local/kind-pause

go 1.22
