package kubernetes

// FinalizerServiceExport is upstream's finalizer of ServiceExports whose target groups we hold.
const FinalizerServiceExport = "serviceexport.k8s.aws/resources"
