"""AWS plumbing shared by the storage implementations: clients, errors, names, provisioning."""
