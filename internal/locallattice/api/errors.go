package api

import (
	"fmt"
	"net/http"
)

// apiError is an error answer in the restJson1 shape: the type goes into X-Amzn-ErrorType and
// __type, extra members (reason, fieldList, resourceId, ...) into the body.
type apiError struct {
	Status     int
	Type       string
	Message    string
	Fields     map[string]any
	RetryAfter int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// Resource types named in ResourceNotFound, Conflict and quota errors.
const (
	rtServiceNetwork = "SERVICE_NETWORK"
	rtService        = "SERVICE"
	rtListener       = "LISTENER"
	rtRule           = "RULE"
	rtTargetGroup    = "TARGET_GROUP"
	rtTarget         = "TARGET"
	rtSNSA           = "SERVICE_NETWORK_SERVICE_ASSOCIATION"
	rtSNVA           = "SERVICE_NETWORK_VPC_ASSOCIATION"
	rtAccessLog      = "ACCESS_LOG_SUBSCRIPTION"
	rtAuthPolicy     = "AUTH_POLICY"
	rtResourcePolicy = "RESOURCE_POLICY"
	rtResource       = "RESOURCE"
	rtIdempotency    = "IDEMPOTENCY_TOKEN"
)

type fieldError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func validationError(reason, msg string, fields []fieldError) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg,
		Fields: map[string]any{"reason": reason}}
	if len(fields) > 0 {
		e.Fields["fieldList"] = fields
	}
	return e
}

func invalidField(name, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return validationError("fieldValidationFailed", name+": "+msg, []fieldError{{Name: name, Message: msg}})
}

func cannotParse(err error) *apiError {
	return validationError("cannotParse", "cannot parse request body: "+err.Error(), nil)
}

func notFound(resourceType, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "ResourceNotFoundException",
		Message: fmt.Sprintf("%s %s was not found", resourceType, id),
		Fields:  map[string]any{"resourceId": id, "resourceType": resourceType}}
}

func conflict(resourceType, id, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Type: "ConflictException", Message: fmt.Sprintf(format, args...),
		Fields: map[string]any{"resourceId": id, "resourceType": resourceType}}
}

func accessDenied(msg string) *apiError {
	return &apiError{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: msg}
}

func throttled(retryAfter int) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Type: "ThrottlingException", Message: "Rate exceeded",
		Fields: map[string]any{"serviceCode": serviceCode}, RetryAfter: retryAfter}
}

func internalError(msg string) *apiError {
	return &apiError{Status: http.StatusInternalServerError, Type: "InternalServerException", Message: msg, RetryAfter: 1}
}

const serviceCode = "vpc-lattice"
