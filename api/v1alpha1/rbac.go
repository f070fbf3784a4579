package v1alpha1

// The controller's cluster-wide permissions. controller-gen turns these markers into
// config/rbac/role.yaml, which the Helm chart's ClusterRole reads, so this list is the one place
// to change them. Leader election needs leases only in the controller's own namespace; that
// namespaced Role lives in the chart (templates/leader-election-rbac.yaml), not here.
//
// Gateway API: read everything we translate; update objects to add finalizers and the route
// annotations; write status.
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses;gateways;httproutes;grpcroutes;tlsroutes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=referencegrants,verbs=get;list;watch
// ListenerSets are read and get status; they carry no finalizer or annotation of ours.
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=listenersets,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=listenersets/status,verbs=update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/status;gateways/status;httproutes/status;grpcroutes/status;tlsroutes/status,verbs=update;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/finalizers;gateways/finalizers;httproutes/finalizers;grpcroutes/finalizers;tlsroutes/finalizers,verbs=update
//
// Backends and allowedRoutes namespace selectors are read only; Secrets only for listener
// certificateRefs.
// +kubebuilder:rbac:groups="",resources=services;namespaces;pods;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
//
// Our own CRDs: policies and exports get finalizers and bookkeeping annotations, and status.
// +kubebuilder:rbac:groups=application-networking.k8s.aws,resources=targetgrouppolicies;vpcassociationpolicies;accesslogpolicies;iamauthpolicies;serviceexports;serviceimports;servicenetworks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=application-networking.k8s.aws,resources=targetgrouppolicies/status;vpcassociationpolicies/status;accesslogpolicies/status;iamauthpolicies/status;serviceexports/status;serviceimports/status;servicenetworks/status,verbs=update;patch
// +kubebuilder:rbac:groups=application-networking.k8s.aws,resources=targetgrouppolicies/finalizers;vpcassociationpolicies/finalizers;accesslogpolicies/finalizers;iamauthpolicies/finalizers;serviceexports/finalizers;serviceimports/finalizers;servicenetworks/finalizers,verbs=update
