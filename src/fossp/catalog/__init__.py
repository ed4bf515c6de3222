"""The role catalog: server roles, their implementations, features and the platform."""

from fossp.catalog.loader import Catalog, CatalogError, build_catalog, load_catalog
from fossp.catalog.schema import CatalogStatus, Family, Role

__all__ = ["Catalog", "CatalogError", "CatalogStatus", "Family", "Role", "build_catalog", "load_catalog"]
