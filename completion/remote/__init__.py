"""Remote inference servers (llama-server, OpenAI-compatible servers, Ollama) behind the engine's backend seam.

``options`` holds the settings, ``streams`` the HTTP streaming (byte caps, stalls, cancellation that closes the
connection), ``apis`` what each server's documented API wants and returns, and ``backend`` the
:class:`~completion.remote.backend.RemoteBackend` the engine calls: it probes the endpoint, picks the FIM
template, streams with the engine's stop rules and turns every fault into "no suggestion" plus one report per
failure episode, with backoff.
"""
