package activity

import "context"

// Principal is who is calling: a user of a tenant, through an app. Every activity belongs to exactly one
// principal, and a principal sees only its own (Graph's UserActivity.ReadWrite.CreatedByApp).
type Principal struct {
	TenantID string // tid claim
	UserID   string // oid claim, falling back to sub
	AppID    string // azp claim, falling back to appid
	// UserName is the user's sign-in name (preferred_username or upn), used only to match /users/{id}.
	UserName string
}

// contextKey is private so that only this package can set values of it.
type contextKey int

const principalKey contextKey = iota

// NewContextWithPrincipal returns a copy of ctx that carries p.
func NewContextWithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFromContext returns the principal ctx carries, and whether it carries one.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}
