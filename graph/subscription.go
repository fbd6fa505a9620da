package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/activityd/activityd"
)

// Webhooks checks that a notification URL answers Graph's validation handshake.
type Webhooks interface {
	Validate(ctx context.Context, notificationURL string) error
}

// subscriptionProps are the properties of Graph's subscription resource.
// https://learn.microsoft.com/graph/api/resources/subscription
var subscriptionProps = []string{"id", "resource", "changeType", "notificationUrl", "lifecycleNotificationUrl",
	"clientState", "expirationDateTime", "applicationId", "creatorId", "includeResourceData",
	"latestSupportedTlsVersion", "encryptionCertificate", "encryptionCertificateId", "notificationQueryOptions",
	"notificationUrlAppId"}

// subscriptionBody is a decoded subscription request body.
type subscriptionBody struct {
	activity.Subscription
	changeType string
	present    map[string]bool
}

func decodeSubscription(body []byte, maxDepth int) (*subscriptionBody, error) {
	d, err := newDecoder(body, maxDepth)
	if err != nil {
		return nil, err
	}
	b := &subscriptionBody{present: map[string]bool{}}
	ok, err := d.object("", func(name, path string) (err error) {
		b.present[name] = true
		switch name {
		case "resource":
			b.Resource, err = d.str(path)
		case "changeType":
			b.changeType, err = d.str(path)
		case "notificationUrl":
			b.NotificationURL, err = d.str(path)
		case "lifecycleNotificationUrl":
			b.LifecycleNotificationURL, err = d.str(path)
		case "clientState":
			b.ClientState, err = d.str(path)
		case "expirationDateTime":
			b.ExpirationDateTime, err = d.dateTime(path)
		case "includeResourceData":
			var v *bool
			if v, err = d.boolean(path); err == nil && v != nil && *v {
				err = invalid("The property 'includeResourceData' cannot be true: notifications carry the activity's id; read it with GET or a delta query.")
			}
		case "encryptionCertificate", "encryptionCertificateId", "notificationQueryOptions", "notificationUrlAppId":
			var v string
			if v, err = d.str(path); err == nil && v != "" {
				err = invalid("The property '%s' is not supported.", path)
			}
		case "id", "applicationId", "creatorId", "latestSupportedTlsVersion":
			_, err = d.str(path) // server-set: accepted and ignored, but a string
		default:
			err = unknown(path, name, "subscription", subscriptionProps)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("The request body must be a JSON object, not null.")
	}
	return b, nil
}

// subscriptions returns the store's subscriptions for a request to /subscriptions, which takes no
// query option.
func (s *Server) subscriptions(r *http.Request) (activity.SubscriptionStore, error) {
	subs, ok := s.service.Store.(activity.SubscriptionStore)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "notSupported", "This server keeps no subscriptions.")
	}
	if _, err := parseQuery(r.URL.RawQuery, 0, nil); err != nil {
		return nil, err
	}
	return subs, nil
}

// handleSubscriptionPost creates a subscription after the validation handshake with its URLs.
// https://learn.microsoft.com/graph/api/subscription-post-subscriptions
func (s *Server) handleSubscriptionPost(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	subs, err := s.subscriptions(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	b, err := decodeSubscription(body, s.MaxJSONDepth)
	if err != nil {
		return err
	}
	sub := &b.Subscription
	sub.ID, sub.Principal, sub.CreatedDateTime = activity.NewGUID(), p, time.Now().UTC()
	if b.changeType != "" {
		if sub.ChangeTypes, err = activity.ParseChangeTypes(b.changeType); err != nil {
			return err
		}
	}
	if sub.ExpirationDateTime.IsZero() {
		return invalid("The property 'expirationDateTime' is required.")
	}
	if err := sub.Validate(time.Now(), false); err != nil {
		return err
	}
	if user, _ := sub.ResourceUser(); user != "" && user != "me-token-to-replace" && !sameUser(user, p) {
		return invalid("The resource '%s' names another user; subscribe to me/activities.", sub.Resource)
	}
	if s.Webhooks == nil {
		return errorf(http.StatusNotImplemented, "notSupported", "Change notifications are not enabled on this server.")
	}
	for _, u := range []string{sub.NotificationURL, sub.LifecycleNotificationURL} {
		if u == "" {
			continue
		}
		if err := s.Webhooks.Validate(r.Context(), u); err != nil {
			return err
		}
	}
	if err := subs.CreateSubscription(r.Context(), sub); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, s.appendSubscription(nil, r, rp, sub, true))
	return nil
}

func (s *Server) handleSubscriptionList(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	subs, err := s.subscriptions(r)
	if err != nil {
		return err
	}
	list, err := subs.ListSubscriptions(r.Context(), p)
	if err != nil {
		return err
	}
	b := beginPage(make([]byte, 0, 1024), contextURL(r, rp, "subscriptions"), -1, "")
	for i, sub := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendSubscription(b, r, rp, sub, false)
	}
	s.writeJSON(w, http.StatusOK, endPage(b))
	return nil
}

func (s *Server) handleSubscriptionGet(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	subs, err := s.subscriptions(r)
	if err != nil {
		return err
	}
	sub, err := subs.FindSubscription(r.Context(), p, subscriptionID(rp))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.appendSubscription(nil, r, rp, sub, true))
	return nil
}

// handleSubscriptionPatch renews a subscription: only expirationDateTime may change.
// https://learn.microsoft.com/graph/api/subscription-update
func (s *Server) handleSubscriptionPatch(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	subs, err := s.subscriptions(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	b, err := decodeSubscription(body, s.MaxJSONDepth)
	if err != nil {
		return err
	}
	for name := range b.present {
		if name != "expirationDateTime" {
			return invalid("The property '%s' cannot be changed; only expirationDateTime can (delete the subscription and make another).", name)
		}
	}
	if !b.present["expirationDateTime"] {
		return invalid("The property 'expirationDateTime' is required to renew a subscription.")
	}
	sub, err := subs.FindSubscription(r.Context(), p, subscriptionID(rp))
	if err != nil {
		return err
	}
	sub.ExpirationDateTime = b.ExpirationDateTime
	if err := sub.Validate(time.Now(), false); err != nil {
		return err
	}
	if err := subs.RenewSubscription(r.Context(), p, sub.ID, sub.ExpirationDateTime); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.appendSubscription(nil, r, rp, sub, true))
	return nil
}

func (s *Server) handleSubscriptionDelete(w http.ResponseWriter, r *http.Request, rp *resourcePath, p activity.Principal) error {
	subs, err := s.subscriptions(r)
	if err != nil {
		return err
	}
	if err := subs.DeleteSubscription(r.Context(), p, subscriptionID(rp)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appendSubscription appends a subscription as Graph's subscription resource.
func (s *Server) appendSubscription(b []byte, r *http.Request, rp *resourcePath, sub *activity.Subscription, withContext bool) []byte {
	o := newObject(b)
	if withContext {
		o.str("@odata.context", contextURL(r, rp, "subscriptions/$entity"))
	}
	o.str("id", sub.ID)
	o.str("resource", sub.Resource)
	o.str("applicationId", sub.Principal.AppID)
	o.str("changeType", sub.ChangeType())
	o.optStr("clientState", sub.ClientState, 0, 0)
	o.str("notificationUrl", sub.NotificationURL)
	o.optStr("lifecycleNotificationUrl", sub.LifecycleNotificationURL, 0, 0)
	o.time("expirationDateTime", sub.ExpirationDateTime)
	o.str("creatorId", sub.Principal.UserID)
	o.key("includeResourceData")
	o.b = append(o.b, "false"...)
	o.str("latestSupportedTlsVersion", "v1_2")
	o.optStr("encryptionCertificate", "", 0, 0)
	o.optStr("encryptionCertificateId", "", 0, 0)
	o.optStr("notificationQueryOptions", "", 0, 0)
	o.optStr("notificationUrlAppId", "", 0, 0)
	return o.close()
}

// subscriptionID is the subscription id of the path: a GUID in canonical form when it is one.
func subscriptionID(rp *resourcePath) string {
	if id, ok := activity.ParseGUID(rp.key); ok {
		return id
	}
	return rp.key
}
