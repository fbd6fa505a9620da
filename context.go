package activity

// Principal is who is calling: a user of a tenant, through an app. Every activity belongs to exactly one
// principal, and a principal sees only its own (Graph's UserActivity.ReadWrite.CreatedByApp).
type Principal struct {
	TenantID string // tid claim
	UserID   string // oid claim, falling back to sub
	AppID    string // azp claim, falling back to appid
	// UserName is the user's sign-in name (preferred_username or upn), used only to match /users/{id}.
	UserName string
	// Issuer is the iss of the token that vouches for the principal; each trusted issuer speaks for
	// tenants of its own, never for another's.
	Issuer string
	// AllApps: the token grants the person's view across all their apps (activityd's scope
	// UserActivity.ReadWrite.All), which the privacy API needs. Graph routes ignore it.
	AllApps bool
}
