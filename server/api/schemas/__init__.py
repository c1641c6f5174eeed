"""The API's request and response bodies, one module per area. The till reads these (or /openapi.json);
nothing else. Routers declare no body of their own."""
