enum VerifierPage {
    static let html = "<!doctype html><title>Vellum</title>"
}
