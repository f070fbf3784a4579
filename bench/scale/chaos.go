package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgtatypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// chaosFaults are the chaos regime: 20 % of calls throttled, 5 % answered 500, 30 ms
// added to every call.
var chaosFaults = api.Faults{ThrottleRate: 0.2, ErrorRate: 0.05, APILatency: 30 * time.Millisecond}

// chaos creates every route and then deletes everything while the controller is SIGKILLed and
// restarted every killEvery, and checks after each that Lattice holds exactly what the routes
// ask for (no duplicate, nothing leaked), by the store and by the Tagging API.
func (b *clusterBench) chaos(ctx context.Context) (err error) {
	b.printHeader(fmt.Sprintf("chaos: %.0f%% throttled, %.0f%% 500s, %v per call, controller SIGKILLed every %v",
		100*chaosFaults.ThrottleRate, 100*chaosFaults.ErrorRate, chaosFaults.APILatency, b.killEvery))
	if err := b.setUp(ctx); err != nil {
		return err
	}
	if err := b.ctrl.start(); err != nil {
		return err
	}
	k := b.startKiller()
	defer func() {
		if restartErr := k.halt(); err == nil {
			err = restartErr
		}
	}()

	start := time.Now()
	if err := b.applyRoutes(ctx); err != nil {
		return err
	}
	if err := b.waitProgrammed(ctx, 30*time.Minute); err != nil {
		return err
	}
	fmt.Printf("create: all %d routes Programmed in %v, %d SIGKILLs so far\n", b.n, time.Since(start).Round(time.Millisecond), k.count())
	if err := b.checkInventory(ctx, b.n); err != nil {
		return err
	}

	start = time.Now()
	killsBefore := k.count()
	if err := b.deleteAll(ctx); err != nil {
		return err
	}
	if _, err := b.waitDeleted(ctx, 30*time.Minute); err != nil {
		return err
	}
	fmt.Printf("delete: routes and Gateway gone, Lattice empty in %v, %d SIGKILLs during the delete\n", time.Since(start).Round(time.Millisecond), k.count()-killsBefore)
	if err := b.checkInventory(ctx, 0); err != nil {
		return err
	}
	c := b.srv.Counts()
	fmt.Printf("all calls of the run: %d, of which %d throttled and %d answered 500\n", c.Total(), status(c, 429), status(c, 500))
	return nil
}

// killer SIGKILLs and restarts the controller on a period.
type killer struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	kills  int
	err    error
}

func (b *clusterBench) startKiller() *killer {
	k := &killer{stopCh: make(chan struct{})}
	k.wg.Go(func() {
		t := time.NewTicker(b.killEvery)
		defer t.Stop()
		for {
			select {
			case <-k.stopCh:
				return
			case <-t.C:
			}
			b.ctrl.kill()
			fmt.Printf("  %s: SIGKILL, %s\n", time.Now().UTC().Format("15:04:05"), b.progress())
			err := b.ctrl.start()
			k.mu.Lock()
			k.kills++
			if err != nil && k.err == nil {
				k.err = err
			}
			k.mu.Unlock()
		}
	})
	return k
}

func (k *killer) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kills
}

// halt stops the killing and returns the first failure to restart the controller.
func (k *killer) halt() error {
	close(k.stopCh)
	k.wg.Wait()
	return k.err
}

// progress says how far Lattice and the calls are.
func (b *clusterBench) progress() string {
	s := b.srv.Store().Snapshot()
	c := b.srv.Counts()
	return fmt.Sprintf("Lattice has %d services, %d target groups, %d rules; %d calls so far (%d throttled, %d 500s)",
		len(s.Services), len(s.TargetGroups), len(s.Rules), c.Total(), status(c, 429), status(c, 500))
}

// checkInventory compares Lattice with what n routes ask for: one service network and its VPC
// association, and per route one service, association and listener, its rules, two target
// groups of two targets; no name twice. The Tagging API must list exactly the owned resources
// the store holds.
func (b *clusterBench) checkInventory(ctx context.Context, n int) error {
	s := b.srv.Store().Snapshot()
	wantRules := latticeRules(n)
	targets := 0
	for _, tg := range s.TargetGroups {
		targets += len(tg.Targets)
	}
	nets, services, groups := map[string]int{}, map[string]int{}, map[string]int{}
	for _, x := range s.ServiceNetworks {
		nets[x.Name]++
	}
	for _, x := range s.Services {
		services[x.Name]++
	}
	for _, x := range s.TargetGroups {
		groups[x.Name]++
	}
	assocs := map[string]int{}
	for _, a := range s.ServiceAssociations {
		assocs[a.ServiceID]++
	}
	dup := func(m map[string]int) int {
		d := 0
		for _, v := range m {
			d += v - 1
		}
		return d
	}
	wantNets := min(n, 1)
	var problems []string
	check := func(what string, got, want int) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s %d, want %d", what, got, want))
		}
	}
	check("service networks", len(s.ServiceNetworks), wantNets)
	check("VPC associations", len(s.VPCAssociations), wantNets)
	check("services", len(s.Services), n)
	check("service associations", len(s.ServiceAssociations), n)
	check("listeners", len(s.Listeners), n)
	check("rules", len(s.Rules), wantRules)
	check("target groups", len(s.TargetGroups), 2*n)
	check("targets", targets, 4*n)
	check("duplicate names", dup(nets)+dup(services)+dup(groups)+dup(assocs), 0)

	tagged, err := b.ownedByTagging(ctx)
	if err != nil {
		return err
	}
	arns := map[string]bool{}
	addARNs(arns, s.ServiceNetworks, func(x store.ServiceNetwork) string { return x.ARN })
	addARNs(arns, s.Services, func(x store.Service) string { return x.ARN })
	addARNs(arns, s.TargetGroups, func(x store.TargetGroup) string { return x.ARN })
	addARNs(arns, s.Listeners, func(x store.Listener) string { return x.ARN })
	addARNs(arns, s.Rules, func(x store.Rule) string { return x.ARN })
	addARNs(arns, s.ServiceAssociations, func(x store.ServiceNetworkServiceAssociation) string { return x.ARN })
	addARNs(arns, s.VPCAssociations, func(x store.ServiceNetworkVpcAssociation) string { return x.ARN })
	stale := 0
	for _, arn := range tagged {
		if !arns[arn] {
			stale++
		}
	}
	check("Tagging API ARNs of no resource in the store", stale, 0)
	if len(problems) > 0 {
		return fmt.Errorf("lattice inventory for %d routes: %v", n, problems)
	}
	fmt.Printf("  inventory: exactly what %d routes need (%d services, %d target groups, %d rules, %d targets), no duplicate; Tagging API lists %d owned resources, none unknown\n",
		n, len(s.Services), len(s.TargetGroups), len(s.Rules), targets, len(tagged))
	return nil
}

func addARNs[T any](set map[string]bool, xs []T, arn func(T) string) {
	for _, x := range xs {
		set[arn(x)] = true
	}
}

// ownedByTagging lists the ARNs tagged ManagedBy this controller, through the Tagging API (with
// the regime's faults, hence the patient retries).
func (b *clusterBench) ownedByTagging(ctx context.Context) ([]string, error) {
	c := rgta.New(rgta.Options{Region: "us-west-2", BaseEndpoint: aws.String(b.srv.URL()), RetryMaxAttempts: 20,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", "")})
	p := rgta.NewGetResourcesPaginator(c, &rgta.GetResourcesInput{TagFilters: []rgtatypes.TagFilter{
		{Key: aws.String(model.TagManagedBy), Values: []string{account + "/" + clusterName + "/" + vpcID}}}})
	var arns []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("GetResources: %w", err)
		}
		for _, m := range page.ResourceTagMappingList {
			arns = append(arns, aws.ToString(m.ResourceARN))
		}
	}
	return arns, nil
}
