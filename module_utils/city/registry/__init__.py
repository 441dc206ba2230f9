"""The registry: reading its files, their JSON Schemas and the cross-file rules.

Nothing here talks to a server; the services (dns, mail, sms) start from what this
package loads and validates.
"""
