"""Transfer mechanics: linking a source model and loading its weights. Which modules then train is
each trainer's choice; freezing the others is a training mechanic (:mod:`nnunet_t1t2.training.freezing`)."""
