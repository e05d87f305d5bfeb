package provider

import (
	"context"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// NewProtocol6 returns the provider's protocol 6 server: the framework's, with
// two shortcuts on the refresh path, where every resource pays for every
// value of its state. terraform-plugin-framework looks each value up in the
// schema several times per request (to turn empty list blocks into null and
// back, to null write-only attributes, for semantic equality), copying the
// schema's attribute maps at every step of every path: for an amibake_image
// with inline steps that was ~9 ms of CPU per refresh, ten times its Read.
//
//   - UpgradeResourceState at the current schema version is the framework's
//     passthrough (the JSON state decoded with the current schema, null list
//     and set blocks made empty, write-only attributes nulled), done here in
//     one walk guided by the protocol schema.
//   - ReadResource of amibake_image hands the framework the state without
//     its recipe (the inline blocks, the document and the recipe's other
//     attributes), which Read never looks at, and puts the recipe back into
//     the new state as it was.
//
// Everything else, and both requests in any other case, go to the framework
// unchanged.
func NewProtocol6(p provider.Provider) func() tfprotov6.ProviderServer {
	inner := providerserver.NewProtocol6(p)
	return func() tfprotov6.ProviderServer {
		return &protocolServer{ProviderServer: inner()}
	}
}

// NewProtocol6WithError is NewProtocol6 in the form terraform-plugin-testing's
// ProtoV6ProviderFactories take.
func NewProtocol6WithError(p provider.Provider) func() (tfprotov6.ProviderServer, error) {
	server := NewProtocol6(p)
	return func() (tfprotov6.ProviderServer, error) { return server(), nil }
}

type protocolServer struct {
	tfprotov6.ProviderServer

	mu      sync.Mutex
	schemas map[string]*tfprotov6.Schema // resource schemas, from the first GetProviderSchema
}

func (s *protocolServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	resp, err := s.ProviderServer.GetProviderSchema(ctx, req)
	if err == nil && resp != nil {
		s.keepSchemas(resp)
	}
	return resp, err
}

func (s *protocolServer) keepSchemas(resp *tfprotov6.GetProviderSchemaResponse) {
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schemas == nil {
		s.schemas = resp.ResourceSchemas
	}
}

// resourceSchema is the protocol schema of a resource type, asked of the
// framework if Terraform has not asked yet (it may cache schemas across runs).
func (s *protocolServer) resourceSchema(ctx context.Context, typeName string) *tfprotov6.Schema {
	s.mu.Lock()
	known := s.schemas != nil
	s.mu.Unlock()
	if !known {
		if resp, err := s.ProviderServer.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err == nil && resp != nil {
			s.keepSchemas(resp)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schemas[typeName]
}

func (s *protocolServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	if req.RawState == nil || req.RawState.JSON == nil {
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	schema := s.resourceSchema(ctx, req.TypeName)
	if schema == nil || schema.Block == nil || req.Version != schema.Version {
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	typ := schema.ValueType()
	// The framework's own options: fields of the JSON that the schema no
	// longer has are dropped.
	v, err := req.RawState.UnmarshalWithOpts(typ, tfprotov6.UnmarshalOpts{
		ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true},
	})
	if err != nil {
		// The framework words this error for the user.
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	v, err = normaliseBlock(schema.Block, v)
	if err != nil {
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		return s.ProviderServer.UpgradeResourceState(ctx, req)
	}
	return &tfprotov6.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

func (s *protocolServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if req.TypeName != imageTypeName || req.CurrentState == nil {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	schema := s.resourceSchema(ctx, req.TypeName)
	if schema == nil || schema.Block == nil {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	typ := schema.ValueType()
	prior, err := req.CurrentState.Unmarshal(typ)
	if err != nil || !prior.IsKnown() || prior.IsNull() {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	var priorAttrs map[string]tftypes.Value
	if err := prior.As(&priorAttrs); err != nil {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	recipe := recipeOnlyNames()
	lean := tftypes.NewValue(typ, leanAttributes(schema.Block, priorAttrs, recipe))
	leanState, err := tfprotov6.NewDynamicValue(typ, lean)
	if err != nil {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	leanReq := *req
	leanReq.CurrentState = &leanState
	resp, err := s.ProviderServer.ReadResource(ctx, &leanReq)
	if err != nil || resp == nil || resp.NewState == nil {
		return resp, err
	}
	newState, err := resp.NewState.Unmarshal(typ)
	if err != nil || newState.IsNull() || !newState.IsKnown() {
		// Removed from state (or not decodable): nothing to put back.
		return resp, err
	}
	var newAttrs map[string]tftypes.Value
	if err := newState.As(&newAttrs); err != nil {
		return resp, err
	}
	for name := range recipe {
		if v, ok := priorAttrs[name]; ok {
			newAttrs[name] = v
		}
	}
	merged, err := normaliseBlock(schema.Block, tftypes.NewValue(typ, newAttrs))
	if err != nil {
		return resp, err
	}
	dv, err := tfprotov6.NewDynamicValue(typ, merged)
	if err != nil {
		return resp, err
	}
	resp.NewState = &dv
	return resp, nil
}

// imageTypeName is amibake_image's type name.
const imageTypeName = "amibake_image"

// recipeOnlyNames are the top-level attributes and blocks of amibake_image
// that hold the recipe and that Read does not refresh: those of the shared
// recipe schema, and `document`.
var recipeOnlyNames = sync.OnceValue(func() map[string]struct{} {
	names := map[string]struct{}{"document": {}}
	for name := range recipeAttributes() {
		names[name] = struct{}{}
	}
	for name := range recipeBlocks() {
		names[name] = struct{}{}
	}
	for _, a := range refreshedAttributes(&imageResourceModel{}) {
		delete(names, a.name)
	}
	return names
})

// leanAttributes are a state's top-level values with those named in drop
// emptied: null, or for a list or set block no elements, as Terraform itself
// sends an absent block.
func leanAttributes(block *tfprotov6.SchemaBlock, prior map[string]tftypes.Value, drop map[string]struct{}) map[string]tftypes.Value {
	out := make(map[string]tftypes.Value, len(prior))
	for _, a := range block.Attributes {
		if _, ok := drop[a.Name]; ok {
			out[a.Name] = tftypes.NewValue(a.ValueType(), nil)
			continue
		}
		out[a.Name] = prior[a.Name]
	}
	for _, b := range block.BlockTypes {
		if _, ok := drop[b.TypeName]; ok {
			out[b.TypeName] = emptyBlock(b)
			continue
		}
		out[b.TypeName] = prior[b.TypeName]
	}
	return out
}

// emptyBlock is the value of an absent block: no elements for a list or set
// block, null otherwise.
func emptyBlock(b *tfprotov6.SchemaNestedBlock) tftypes.Value {
	typ := b.ValueType()
	switch b.Nesting {
	case tfprotov6.SchemaNestedBlockNestingModeList, tfprotov6.SchemaNestedBlockNestingModeSet:
		return tftypes.NewValue(typ, []tftypes.Value{})
	default:
		return tftypes.NewValue(typ, nil)
	}
}

// normaliseBlock does to a block's value what the framework does to every
// state it sends: a null list or set block becomes one without elements, and
// a write-only attribute becomes null (Terraform never stores them).
func normaliseBlock(block *tfprotov6.SchemaBlock, v tftypes.Value) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return v, err
	}
	changed := false
	for _, a := range block.Attributes {
		av, ok := attrs[a.Name]
		if !ok {
			continue
		}
		nv, err := normaliseAttribute(a, av)
		if err != nil {
			return v, err
		}
		if !nv.Equal(av) {
			attrs[a.Name], changed = nv, true
		}
	}
	for _, b := range block.BlockTypes {
		bv, ok := attrs[b.TypeName]
		if !ok {
			continue
		}
		nv, err := normaliseNestedBlock(b, bv)
		if err != nil {
			return v, err
		}
		if !nv.Equal(bv) {
			attrs[b.TypeName], changed = nv, true
		}
	}
	if !changed {
		return v, nil
	}
	return tftypes.NewValue(v.Type(), attrs), nil
}

func normaliseNestedBlock(b *tfprotov6.SchemaNestedBlock, v tftypes.Value) (tftypes.Value, error) {
	switch b.Nesting {
	case tfprotov6.SchemaNestedBlockNestingModeList, tfprotov6.SchemaNestedBlockNestingModeSet:
		if v.IsNull() {
			return emptyBlock(b), nil
		}
		if !v.IsKnown() {
			return v, nil
		}
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return v, err
		}
		for i, e := range elems {
			ne, err := normaliseBlock(b.Block, e)
			if err != nil {
				return v, err
			}
			elems[i] = ne
		}
		return tftypes.NewValue(v.Type(), elems), nil
	case tfprotov6.SchemaNestedBlockNestingModeMap:
		if v.IsNull() || !v.IsKnown() {
			return v, nil
		}
		var elems map[string]tftypes.Value
		if err := v.As(&elems); err != nil {
			return v, err
		}
		for k, e := range elems {
			ne, err := normaliseBlock(b.Block, e)
			if err != nil {
				return v, err
			}
			elems[k] = ne
		}
		return tftypes.NewValue(v.Type(), elems), nil
	default:
		return normaliseBlock(b.Block, v)
	}
}

func normaliseAttribute(a *tfprotov6.SchemaAttribute, v tftypes.Value) (tftypes.Value, error) {
	if a.WriteOnly {
		return tftypes.NewValue(v.Type(), nil), nil
	}
	if a.NestedType == nil || v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	object := &tfprotov6.SchemaBlock{Attributes: a.NestedType.Attributes}
	switch a.NestedType.Nesting {
	case tfprotov6.SchemaObjectNestingModeList, tfprotov6.SchemaObjectNestingModeSet:
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return v, err
		}
		for i, e := range elems {
			ne, err := normaliseBlock(object, e)
			if err != nil {
				return v, err
			}
			elems[i] = ne
		}
		return tftypes.NewValue(v.Type(), elems), nil
	case tfprotov6.SchemaObjectNestingModeMap:
		var elems map[string]tftypes.Value
		if err := v.As(&elems); err != nil {
			return v, err
		}
		for k, e := range elems {
			ne, err := normaliseBlock(object, e)
			if err != nil {
				return v, err
			}
			elems[k] = ne
		}
		return tftypes.NewValue(v.Type(), elems), nil
	default:
		return normaliseBlock(object, v)
	}
}
