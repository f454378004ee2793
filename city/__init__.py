"""The city registry: districts → streets → communities → grids, staff, departments and the catalogue.

Loaded from a data folder (:mod:`city.files`) into SQL (:mod:`city.store`), served from memory by
:class:`city.registry.SqlCityRegistry`; :mod:`city.seed` generates the bundled seed city.
"""
