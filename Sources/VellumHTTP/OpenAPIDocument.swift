/// `GET /openapi.yaml`: the API as OpenAPI 3.1. A test checks that its paths and methods are
/// exactly the router's.
enum OpenAPIDocument {
    static let yaml = #"""
        openapi: 3.1.0
        info:
          title: Vellum node
          version: "1"
          description: |
            A node of a Vellum federation: status, verification and Bitstring Status Lists for the
            academic credentials in its replica of the ledger. Every node answers for every issuer;
            status answers carry the issuer-signed entries that decided them. Read-only: issuing
            and revoking happen on the issuer's node with the `vellum` CLI. A known path asked
            with another method answers 405 with an `Allow` header (MethodNotAllowed); connections
            that send no complete request within the idle timeout (20 s by default) are closed.
        paths:
          /:
            get:
              summary: The verifier web page (no external assets).
              responses:
                "200":
                  description: An HTML page.
                  content:
                    text/html: {}
          /healthz:
            get:
              summary: Liveness, with the size of the replica.
              responses:
                "200":
                  description: The node is serving.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status, issuer, entries, feeds]
                        properties:
                          status: {const: ok}
                          issuer: {type: string, description: "This node's did:key."}
                          entries: {type: integer}
                          feeds: {type: integer}
                "503": {$ref: "#/components/responses/Unavailable"}
          /metrics:
            get:
              summary: Prometheus metrics (entries, feeds, peers, sync lag, rejected entries by reason, request latencies).
              responses:
                "200":
                  description: Prometheus text exposition format 0.0.4.
                  content:
                    text/plain: {}
          /openapi.yaml:
            get:
              summary: This document.
              responses:
                "200":
                  description: OpenAPI 3.1.
                  content:
                    application/yaml: {}
          /v1/credentials/{id}/status:
            get:
              summary: A credential's status, now or at a past time, with the signed evidence.
              parameters:
                - name: id
                  in: path
                  required: true
                  description: The credential id, urn:uuid:... (percent-encoding accepted).
                  schema: {type: string, pattern: "^urn(:|%3A)uuid(:|%3A)"}
                - name: issuer
                  in: query
                  required: false
                  description: >-
                    The issuer's did:key. A credential is its issuer and its id: needed only when
                    several feeds wrote the id (without it, such an id is refused with 409).
                  schema: {type: string}
                - name: at
                  in: query
                  required: false
                  description: >-
                    An RFC 3339 date-time, or a date meaning its start in UTC: the status as of then,
                    judged by the log's own timestamps (see Docs/LEDGER.md on clock skew).
                  schema: {type: string}
              responses:
                "200":
                  description: The status.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/StatusAnswer"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "404": {$ref: "#/components/responses/NotFound"}
                "409": {$ref: "#/components/responses/Ambiguous"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /v1/verify:
            post:
              summary: Verify a credential against this node's ledger (the same report as `vellum verify --json`).
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/Credential"}
              responses:
                "200":
                  description: The report; `verified` says whether every check passed.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/VerifyAnswer"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /v1/status-lists/{list}:
            get:
              summary: The newest issuer-signed BitstringStatusListCredential this node holds.
              description: >-
                W3C Bitstring Status List v1.0: GZIP, base64url multibase `u`, 131,072 entries, index 0 the
                left-most bit; secured with eddsa-jcs-2022 by the issuer, and replicated with the ledger.
              parameters:
                - name: list
                  in: path
                  required: true
                  description: ISSUER-PURPOSE-NUMBER, the last segment of a statusListCredential URL.
                  schema: {type: string, pattern: "^z[1-9A-HJ-NP-Za-km-z]+-(revocation|suspension)-[0-9]+$"}
              responses:
                "200":
                  description: The signed status list credential, as the issuer signed it.
                  content:
                    application/vc+ld+json:
                      schema: {$ref: "#/components/schemas/Credential"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /credentials/verify:
            post:
              summary: W3C CCG VC-API credential verification.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [verifiableCredential]
                      properties:
                        verifiableCredential: {$ref: "#/components/schemas/Credential"}
                        options: {type: object}
              responses:
                "200":
                  description: The VerificationResult.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/VerificationResult"}
                "400": {$ref: "#/components/responses/ParsingError"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /presentations/verify:
            post:
              summary: W3C CCG VC-API presentation verification; each credential in it is verified and reported.
              description: |
                Both request shapes of the VC-API: VerifyPresentationRequest (`verifiablePresentation`)
                and ProoflessVerifyPresentationRequest (`presentation`). At most 100 credentials per
                presentation (413 beyond).
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      oneOf:
                        - type: object
                          required: [verifiablePresentation]
                          properties:
                            verifiablePresentation: {type: object}
                            options: {$ref: "#/components/schemas/PresentationOptions"}
                        - type: object
                          required: [presentation]
                          properties:
                            presentation: {type: object}
                            options: {$ref: "#/components/schemas/PresentationOptions"}
              responses:
                "200":
                  description: The presentation's result and one VerificationResult per credential.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [verified, presentationResult, credentialResults, problemDetails]
                        properties:
                          verified: {type: boolean}
                          presentationResult:
                            type: object
                            properties:
                              verified: {type: boolean}
                              results: {type: array, items: {$ref: "#/components/schemas/CheckResult"}}
                          credentialResults: {type: array, items: {$ref: "#/components/schemas/VerificationResult"}}
                          problemDetails: {type: array, items: {$ref: "#/components/schemas/ProblemDetails"}}
                "400": {$ref: "#/components/responses/ParsingError"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /v1/issuers/{did}:
            get:
              summary: Is this issuer recognised by the node's federation? The trust answer with the signed path as evidence.
              description: |
                `did` is a campus feed's did:key (is it delegated, at its next entry, by a current member, and not cut off?)
                or an organization's did:vellum (is it a current member?). Answered offline from this node's replica.
              parameters:
                - {name: did, in: path, required: true, schema: {type: string}}
              responses:
                "200":
                  description: The trust answer.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/TrustAnswer"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /authorization:
            post:
              summary: ToIP TRQP v2 authorization query. Is entity_id authorized by authority_id (this federation) to issue or revoke?
              description: |
                `authorized` is true only when the issuer is delegated by a current member. When it is not, and this node has
                not caught up with any peer for 10 minutes, the answer is "unchecked" (`ext["io.vellum"].answer`), not "no".
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/TRQPQuery"}
              responses:
                "200":
                  description: The TRQP answer.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/TRQPAnswer"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /recognition:
            post:
              summary: ToIP TRQP v2 recognition query. Does authority_id (this federation) recognise entity_id as a current member?
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/TRQPQuery"}
              responses:
                "200":
                  description: The TRQP answer, with `recognized` in place of `authorized`.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/TRQPAnswer"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
        components:
          schemas:
            Credential:
              type: object
              description: A verifiable credential (VC 2.0 OpenBadgeCredential, secured with eddsa-jcs-2022).
            Entry:
              type: object
              description: A signed ledger entry (Docs/LEDGER.md); id = SHA-256 of its encoding, signature by the feed key.
              required: [v, id, feed, seq, prev, hlc, kind, payload, signature]
              properties:
                v: {const: 1}
                id: {type: string}
                feed: {type: string}
                seq: {type: integer}
                prev: {type: string}
                hlc: {type: string}
                kind: {enum: [issue, revoke, suspend, reinstate, status-list, document]}
                payload: {type: object}
                signature: {type: string}
            Freshness:
              type: [object, "null"]
              description: The issuer feed's head this node holds and when it last caught up with a peer on it.
              properties:
                feed: {type: string}
                seq: {type: integer}
                issuerTime: {type: string, format: date-time}
                heardAt: {type: [string, "null"], format: date-time}
                issuersNode: {type: boolean, description: "The answer comes from the issuer's own node."}
                head: {type: string, description: "The id of the head entry (hex)."}
            TrustAnswer:
              type: object
              required: [issuer, trusted, organization, federation, evidence]
              properties:
                issuer: {type: string}
                trusted: {type: boolean}
                organization:
                  type: [object, "null"]
                  properties: {id: {type: string}, name: {type: string, description: "The registry's name of the organization."}}
                federation:
                  type: object
                  properties: {id: {type: string}, name: {type: string}}
                reason: {type: string, description: "Why the issuer is not trusted (absent when it is)."}
                evidence: {type: array, items: {$ref: "#/components/schemas/Entry"}, description: "The genesis, admission, delegation and any undelegation entries."}
            TRQPQuery:
              type: object
              required: [entity_id, authority_id, action]
              properties:
                entity_id: {type: string}
                authority_id: {type: string, description: "The federation's did:vellum."}
                action: {type: string, description: "issue or revoke (authorization); any (recognition)."}
                resource: {type: string}
            TRQPAnswer:
              type: object
              required: [entity_id, authority_id, action, resource, time_evaluated, message]
              properties:
                entity_id: {type: string}
                authority_id: {type: string}
                action: {type: string}
                resource: {type: string}
                authorized: {type: boolean}
                recognized: {type: boolean}
                time_evaluated: {type: string, format: date-time}
                message: {type: string}
                ext:
                  type: object
                  properties:
                    io.vellum:
                      type: object
                      properties: {answer: {enum: ["yes", "no", "unchecked"]}}
            StatusAnswer:
              type: object
              required: [id, status, issuer, at, asOf, evidence]
              properties:
                id: {type: string}
                status: {enum: [active, suspended, revoked, expired]}
                issuer: {type: string}
                validUntil: {type: [string, "null"]}
                at: {type: string, format: date-time}
                asOf: {$ref: "#/components/schemas/Freshness"}
                trust: {$ref: "#/components/schemas/TrustAnswer"}
                evidence: {type: array, items: {$ref: "#/components/schemas/Entry"}}
            VerifyAnswer:
              type: object
              required: [verified, status, checks, evidence, asOf]
              properties:
                verified: {type: boolean}
                id: {type: [string, "null"]}
                issuer: {type: [string, "null"]}
                status: {enum: [active, suspended, revoked, expired, unknown]}
                at: {type: string, format: date-time}
                checks:
                  type: array
                  items:
                    type: object
                    properties:
                      check: {type: string}
                      ok: {type: boolean}
                      detail: {type: string}
                errors: {type: array, items: {type: string}}
                evidence: {type: array, items: {$ref: "#/components/schemas/Entry"}}
                asOf: {$ref: "#/components/schemas/Freshness"}
                trust: {$ref: "#/components/schemas/TrustAnswer"}
            CheckResult:
              type: object
              properties:
                check: {type: string}
                verified: {type: boolean}
                detail: {type: string}
            ProblemDetails:
              type: object
              required: [type, title, detail]
              properties:
                type:
                  type: string
                  description: >-
                    https://www.w3.org/TR/vc-data-model#PARSING_ERROR, #CRYPTOGRAPHIC_SECURITY_ERROR,
                    #MALFORMED_VALUE_ERROR, #RANGE_ERROR, or
                    https://www.w3.org/ns/credentials/status-list#STATUS_VERIFICATION_ERROR, #STATUS_RETRIEVAL_ERROR.
                title: {type: string}
                detail: {type: string}
            VerificationResult:
              type: object
              required: [verified, results, problemDetails]
              properties:
                verified: {type: boolean}
                credentialId: {type: [string, "null"]}
                status: {type: string}
                checks: {type: array, items: {type: string}}
                results: {type: array, items: {$ref: "#/components/schemas/CheckResult"}}
                problemDetails: {type: array, items: {$ref: "#/components/schemas/ProblemDetails"}}
                warnings: {type: array}
                errors: {type: array, items: {$ref: "#/components/schemas/ProblemDetails"}}
            PresentationOptions:
              type: object
              properties:
                challenge: {type: string}
                domain: {type: string}
            Error:
              type: object
              required: [code, message]
              properties:
                code: {type: string}
                message: {type: string}
          responses:
            BadRequest:
              description: Malformed input; the message names the problem.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            ParsingError:
              description: The body could not be parsed (code PARSING_ERROR, with problemDetails).
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            NotFound:
              description: Unknown credential, status list or route.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            Ambiguous:
              description: Several feeds wrote this credential id (code conflict); name the issuer with ?issuer=.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            MethodNotAllowed:
              description: The path exists, but not for this method (code method_not_allowed).
              headers:
                Allow:
                  description: The methods the path answers.
                  schema: {type: string}
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            TooLarge:
              description: The body exceeds 1 MiB, or a presentation carries more than 100 credentials.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            UnsupportedMediaType:
              description: The body is not declared as JSON.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            Unavailable:
              description: The node's storage failed; try again.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
        """#
}
