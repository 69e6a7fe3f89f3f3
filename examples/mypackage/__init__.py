"""An own network and an own CAM method, added to cameval's Tables 1 and 3 by ``examples/config.yaml``
(config/README.md, *Adding your model and your method*). The jobs import it: put ``examples`` on
``PYTHONPATH`` where they run."""
